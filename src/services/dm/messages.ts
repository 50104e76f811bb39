import { and, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { dmConversations, dmMessages, dmParticipants } from '../../db/schema';
import { enforceAutomod } from '../automod/enforce';
import { assertActive } from '../chat/access';
import { checkContent, checkSendRate, checkText } from '../chat/messages';
import { CHAT_LIMITS } from '../chat/types';
import { searchTokensOf } from '../search/blind-index';
import { imageUrlOf, releaseUploads, uploadDepsOf, uploadKeyOf } from '../uploads/references';
import { LEVEL } from '../users/policy';
import { assertNotBlocked, audienceOf, messageOf, participantIdsOf, requireParticipant } from './access';
import { publishDmEvent } from './events';
import { notifyOffline } from './notify';
import type { DmActor, DmDeps } from './types';
import { loadDmMessages } from './views';

// Sending, editing and deleting DMs (seed 002 "DM Client Messages"). Text and
// attachments are sealed before they reach the database; `search_tokens` holds the blind index.
// In a 1:1 conversation a block either way refuses the message; in a group the message is not
// delivered to participants who blocked its author.

export type SendDmInput = {
  conversation_id: number;
  message: string;
  reply_to?: number | undefined;
  image_url?: string | undefined;
};

export async function sendDm(deps: DmDeps, actor: DmActor, input: SendDmInput) {
  const { db } = deps;
  const { conversation } = await requireParticipant(db, input.conversation_id, actor.userId);
  await assertActive(db, actor.userId);
  const ids = await participantIdsOf(db, conversation.id);
  if (conversation.type === 'direct') await assertNotBlocked(db, actor.userId, ids);
  checkContent(input);
  if (input.reply_to !== undefined) {
    const [parent] = await db
      .select({ id: dmMessages.id })
      .from(dmMessages)
      .where(and(eq(dmMessages.id, input.reply_to), eq(dmMessages.conversationId, conversation.id)));
    if (!parent) throw new AppError('BAD_REQUEST', 'reply_to must be a message in this conversation');
  }
  // The same budget as channel chat (CHAT_RATE_*).
  await checkSendRate(deps, actor.userId);
  await enforceAutomod(deps, {
    context: 'dm',
    author: actor,
    bypass: actor.level >= LEVEL.ADMIN,
    conversationId: conversation.id,
    text: input.message,
  });
  const [row] = await db
    .insert(dmMessages)
    .values({
      conversationId: conversation.id,
      userId: actor.userId,
      text: deps.secretBox.encrypt(input.message),
      attachments:
        input.image_url === undefined
          ? null
          : deps.secretBox.encrypt(JSON.stringify({ image_url: input.image_url })),
      replyTo: input.reply_to ?? null,
      searchTokens: searchTokensOf(deps.secretKey, input.message),
      uploadKey: uploadKeyOf(deps.secretKey, input.image_url),
    })
    .returning({ id: dmMessages.id, createdAt: dmMessages.createdAt });
  await db
    .update(dmConversations)
    .set({ lastMessageAt: row!.createdAt })
    .where(eq(dmConversations.id, conversation.id));
  // The author has read their own message.
  await db
    .update(dmParticipants)
    .set({ lastReadId: row!.id })
    .where(and(eq(dmParticipants.conversationId, conversation.id), eq(dmParticipants.userId, actor.userId)));
  const [view] = await loadDmMessages(deps, eq(dmMessages.id, row!.id));
  const frame = { type: 'dm_message', ...view! };
  const to = await audienceOf(deps, conversation.id, actor.userId);
  await publishDmEvent(deps, { user_ids: to, frame });
  const others = to.filter((id) => id !== actor.userId);
  await notifyOffline(deps, actor, conversation.id, row!.id, others).catch((err: unknown) => {
    deps.log.warn({ err, message_id: row!.id }, 'dm notifications failed');
  });
  return frame;
}

/** Own messages within 5 minutes of sending (seed 002). */
export async function editDm(
  deps: DmDeps,
  actor: DmActor,
  conversationId: number,
  messageId: number,
  text: string,
) {
  const m = await messageOf(deps, actor, conversationId, messageId, 'edit');
  await assertActive(deps.db, actor.userId);
  if (Date.now() - m.createdAt.getTime() > CHAT_LIMITS.EDIT_WINDOW_MS)
    throw new AppError('FORBIDDEN', 'Messages can only be edited within 5 minutes');
  checkText(text, m.attachments !== null);
  await enforceAutomod(
    deps,
    {
      context: 'dm',
      author: actor,
      bypass: actor.level >= LEVEL.ADMIN,
      conversationId,
      text,
      edit: true,
    },
    { onDelete: () => deleteDm(deps, actor, conversationId, messageId) },
  );
  const editedAt = new Date();
  await deps.db
    .update(dmMessages)
    .set({ text: deps.secretBox.encrypt(text), searchTokens: searchTokensOf(deps.secretKey, text), editedAt })
    .where(eq(dmMessages.id, messageId));
  const frame = {
    type: 'dm_message_edited',
    conversation_id: conversationId,
    message_id: messageId,
    new_text: text,
    edited_at: editedAt.toISOString(),
  };
  await publishDmEvent(deps, { user_ids: await audienceOf(deps, conversationId, actor.userId), frame });
  return frame;
}

export async function deleteDm(deps: DmDeps, actor: DmActor, conversationId: number, messageId: number) {
  const m = await messageOf(deps, actor, conversationId, messageId, 'delete');
  await deps.db.delete(dmMessages).where(eq(dmMessages.id, messageId));
  await releaseUploads(uploadDepsOf(deps), [imageUrlOf(deps.secretBox, m.attachments)]);
  const frame = { type: 'dm_message_deleted', conversation_id: conversationId, message_id: messageId };
  await publishDmEvent(deps, { user_ids: await participantIdsOf(deps.db, conversationId), frame });
  return frame;
}
