import { and, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { chatMessages } from '../../db/schema';
import { inTransaction } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { enforceAutomod } from '../automod/enforce';
import { searchTokensOf } from '../search/blind-index';
import { releaseUploads, uploadDepsOf, uploadKeyOf } from '../uploads/references';
import { enqueueWebhookEvent } from '../webhooks/outbox';
import { assertActive, assertCanSend, readableChannel } from './access';
import { publishChatEvent } from './events';
import { notifyMentions } from './mentions';
import { blockersOf, type MessageFrameOf, publishMessage } from './publish';
import {
  CHAT_LIMITS,
  CHAT_UPLOAD_PREFIX,
  type ChannelRow,
  type ChatActor,
  type ChatDeps,
  SLOW_DOWN,
} from './types';
import { loadMessages } from './views';

// Sending, editing and deleting channel messages (seed 002 "WebSocket API"). Text and attachments
// are sealed before they reach the database; `search_tokens` holds the blind index only.

export type SendInput = {
  channel: string;
  message: string;
  reply_to?: number | undefined;
  image_url?: string | undefined;
};

export const UPLOAD_PATH = /^\/static\/uploads\/chat\/[A-Za-z0-9_-]{1,128}\.(jpe?g|png|gif|webp)$/;

export function checkText(text: string, allowEmpty: boolean) {
  if (text.length > CHAT_LIMITS.MESSAGE_MAX)
    throw new AppError('BAD_REQUEST', `message must be at most ${CHAT_LIMITS.MESSAGE_MAX} characters`);
  if (!allowEmpty && text.trim() === '') throw new AppError('BAD_REQUEST', 'message is required');
}

/** A new message's text and optional image, as channels and DMs both accept them. */
export function checkContent(input: { message: string; image_url?: string | undefined }) {
  if (input.image_url !== undefined && !UPLOAD_PATH.test(input.image_url))
    throw new AppError('BAD_REQUEST', `image_url must be an upload under ${CHAT_UPLOAD_PREFIX}`);
  checkText(input.message, input.image_url !== undefined);
}

/**
 * Seed 002: 5 messages per 5 s per user (CHAT_RATE_MESSAGES / CHAT_RATE_WINDOW_SECONDS), one
 * budget for channels and DMs, as a sliding window: never more than the limit in any 5 s. A refused
 * message is not stored and does not count.
 */
export async function checkSendRate(deps: Pick<ChatDeps, 'rateLimiter' | 'env'>, userId: number) {
  const limit = await deps.rateLimiter.checkSliding(
    'chat',
    String(userId),
    deps.env?.CHAT_RATE_MESSAGES ?? CHAT_LIMITS.RATE_MESSAGES,
    (deps.env?.CHAT_RATE_WINDOW_SECONDS ?? CHAT_LIMITS.RATE_WINDOW_MS / 1000) * 1000,
  );
  if (!limit.allowed) throw new AppError('TOO_MANY_REQUESTS', SLOW_DOWN);
}

/** One opened message by id with its channel access for the caller (404 when unreadable). */
export async function messageForActor(deps: ChatDeps, actor: ChatActor, messageId: number) {
  const [m] = await loadMessages(deps, eq(chatMessages.id, messageId));
  if (!m) throw new AppError('NOT_FOUND', 'Message not found');
  const access = await readableChannel(deps.db, { id: m.row.channelId }, actor).catch(() => {
    throw new AppError('NOT_FOUND', 'Message not found');
  });
  return { m, access };
}

/**
 * `afterInsert` lets a poll attach its row to the message before anything is published, and
 * `frameOf` publish it as that poll's frame instead of a plain `message`.
 */
export async function sendMessage(
  deps: ChatDeps,
  actor: ChatActor,
  input: SendInput,
  hooks: {
    afterInsert?: (messageId: number, channelId: number) => Promise<void>;
    frameOf?: MessageFrameOf;
    /** What auto-moderation reads when it is more than the text (a poll's options). */
    automodText?: string;
  } = {},
) {
  const { db } = deps;
  const access = await readableChannel(db, { name: input.channel }, actor);
  assertCanSend(access);
  const { anonymous } = await assertActive(db, actor.userId);
  checkContent(input);
  if (input.reply_to !== undefined) {
    const [parent] = await db
      .select({ id: chatMessages.id })
      .from(chatMessages)
      .where(and(eq(chatMessages.id, input.reply_to), eq(chatMessages.channelId, access.channel.id)));
    if (!parent) throw new AppError('BAD_REQUEST', 'reply_to must be a message in this channel');
  }
  await checkSendRate(deps, actor.userId);
  await enforceAutomod(deps, {
    context: 'channel',
    author: actor,
    bypass: access.isModerator,
    channelId: access.channel.id,
    text: hooks.automodText ?? input.message,
  });

  const { view, stored } = await storeMessage(
    deps,
    {
      channel: access.channel,
      author: { userId: actor.userId, username: actor.username },
      text: input.message,
      imageUrl: input.image_url,
      anonymous,
      replyTo: input.reply_to,
    },
    hooks,
  );
  await notifyMentions(deps, actor, access.channel, stored).catch((err: unknown) => {
    deps.log.warn({ err, message_id: stored.row.id }, 'mention notifications failed');
  });
  return view;
}

/** A message that passed its sender's checks: a user's, or an incoming webhook's. */
export type NewMessage = {
  channel: ChannelRow;
  author: { userId: number; username: string } | { webhookId: number; name: string };
  text: string;
  imageUrl?: string | undefined;
  anonymous: boolean;
  replyTo?: number | undefined;
};

/**
 * Stores a message (sealed, blind-indexed) and its `message.created` webhook event in one
 * transaction, then publishes it to the channel. Returns the author's frame and the stored message.
 */
export async function storeMessage(
  deps: ChatDeps,
  m: NewMessage,
  hooks: {
    afterInsert?: (messageId: number, channelId: number) => Promise<void>;
    frameOf?: MessageFrameOf;
  } = {},
) {
  const byUser = 'userId' in m.author ? m.author : null;
  const byHook = 'webhookId' in m.author ? m.author : null;
  const id = await inTransaction(deps.db, async (tx) => {
    const [row] = await tx
      .insert(chatMessages)
      .values({
        channelId: m.channel.id,
        userId: byUser?.userId ?? null,
        text: deps.secretBox.encrypt(m.text),
        attachments:
          m.imageUrl === undefined ? null : deps.secretBox.encrypt(JSON.stringify({ image_url: m.imageUrl })),
        anonymous: m.anonymous,
        replyTo: m.replyTo ?? null,
        webhookId: byHook?.webhookId ?? null,
        authorName: byHook?.name ?? null,
        searchTokens: searchTokensOf(deps.secretKey, m.text),
        uploadKey: uploadKeyOf(deps.secretKey, m.imageUrl),
      })
      .returning({ id: chatMessages.id });
    // Receivers outside Portal never learn an anonymous author.
    await enqueueWebhookEvent(
      { db: tx, secretBox: deps.secretBox },
      {
        event: 'message.created',
        data: {
          message_id: row!.id,
          channel_id: m.channel.id,
          channel_name: m.channel.name,
          user_id: m.anonymous ? null : (byUser?.userId ?? null),
          username: m.anonymous ? 'Anonymous' : (byUser?.username ?? byHook!.name),
          content: m.text,
          reply_to: m.replyTo ?? null,
          image_url: m.imageUrl ?? null,
          anonymous: m.anonymous,
          webhook_id: byHook?.webhookId ?? null,
        },
      },
    );
    return row!.id;
  });
  await hooks.afterInsert?.(id, m.channel.id);
  const [stored] = await loadMessages(deps, eq(chatMessages.id, id));
  const view = await publishMessage(deps, stored!, hooks.frameOf);
  return { view, stored: stored! };
}

/** Own messages within 5 minutes of sending (seed 002). */
export async function editMessage(deps: ChatDeps, actor: ChatActor, messageId: number, text: string) {
  const { m, access } = await messageForActor(deps, actor, messageId);
  if (m.row.userId !== actor.userId) throw new AppError('FORBIDDEN', 'You can only edit your own messages');
  await assertActive(deps.db, actor.userId);
  if (Date.now() - m.row.createdAt.getTime() > CHAT_LIMITS.EDIT_WINDOW_MS)
    throw new AppError('FORBIDDEN', 'Messages can only be edited within 5 minutes');
  checkText(text, m.imageUrl !== null);
  await enforceAutomod(
    deps,
    {
      context: 'channel',
      author: actor,
      bypass: access.isModerator,
      channelId: access.channel.id,
      text,
      edit: true,
    },
    { onDelete: () => deleteMessage(deps, actor, messageId) },
  );
  const editedAt = new Date();
  await deps.db
    .update(chatMessages)
    .set({
      text: deps.secretBox.encrypt(text),
      searchTokens: searchTokensOf(deps.secretKey, text),
      editedAt,
    })
    .where(eq(chatMessages.id, messageId));
  const frame = {
    type: 'message_edited',
    channel: access.channel.name,
    message_id: messageId,
    new_text: text,
    edited_at: editedAt.toISOString(),
  };
  await publishChatEvent(deps, {
    channel_id: access.channel.id,
    frame,
    hidden_from: await blockersOf(deps.db, actor.userId),
  });
  return frame;
}

/** Own messages; channel moderators and Admin+ delete any (audited). */
export async function deleteMessage(deps: ChatDeps, actor: ChatActor, messageId: number) {
  const { m, access } = await messageForActor(deps, actor, messageId);
  const own = m.row.userId === actor.userId;
  if (!own && !access.isModerator) throw new AppError('FORBIDDEN', 'You can only delete your own messages');
  await assertActive(deps.db, actor.userId);
  await inTransaction(deps.db, async (tx) => {
    await tx.delete(chatMessages).where(eq(chatMessages.id, messageId));
    if (!own) {
      await writeAudit(tx, {
        actor: { userId: actor.userId, label: actor.username },
        action: 'chat.message_delete',
        targetType: 'chat_message',
        targetId: messageId,
        details: { channel_id: access.channel.id, author_id: m.row.userId },
        channelId: access.channel.id,
      });
    }
    await enqueueWebhookEvent(
      { db: tx, secretBox: deps.secretBox },
      {
        event: 'message.deleted',
        data: {
          message_id: messageId,
          channel_id: access.channel.id,
          channel_name: access.channel.name,
          user_id: m.row.anonymous ? null : m.row.userId,
          deleted_by: own && m.row.anonymous ? null : actor.userId,
        },
      },
    );
  });
  await releaseUploads(uploadDepsOf(deps), [m.imageUrl]);
  const frame = {
    type: 'message_deleted',
    channel: access.channel.name,
    message_id: messageId,
    // An anonymous author deleting their own message stays anonymous.
    deleted_by: own && m.row.anonymous ? null : actor.userId,
  };
  await publishChatEvent(deps, { channel_id: access.channel.id, frame });
  return frame;
}
