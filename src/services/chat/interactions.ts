import { and, eq, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { chatMessages, chatReactions, chatReads, users } from '../../db/schema';
import { assertActive, assertModerator, moderatorIdsOf, readableChannel } from './access';
import { publishChatEvent } from './events';
import { messageForActor } from './messages';
import { blockersOf } from './publish';
import type { ChatActor, ChatDeps } from './types';

// Reactions, pins, read markers and typing (seed 002 "WebSocket API"): small actions on a message
// or a channel, each announced to the channel's sockets through the Bus.

/**
 * Adds the reaction if absent, removes it if present. A reaction made in anonymous mode stays
 * anonymous (stored per reaction, like messages): others see `user_id: null`, "Anonymous"; the
 * reactor and moderators+ see who it was.
 */
export async function toggleReaction(deps: ChatDeps, actor: ChatActor, messageId: number, emoji: string) {
  const { access } = await messageForActor(deps, actor, messageId);
  await assertActive(deps.db, actor.userId);
  const mine = and(
    eq(chatReactions.messageId, messageId),
    eq(chatReactions.userId, actor.userId),
    eq(chatReactions.emoji, emoji),
  );
  const removed = await deps.db
    .delete(chatReactions)
    .where(mine)
    .returning({ anonymous: chatReactions.anonymous });
  let anonymous = removed[0]?.anonymous ?? false;
  if (removed.length === 0) {
    const [me] = await deps.db
      .select({ anonymous: users.anonymous })
      .from(users)
      .where(eq(users.id, actor.userId));
    anonymous = me?.anonymous ?? false;
    await deps.db
      .insert(chatReactions)
      .values({ messageId, userId: actor.userId, emoji, anonymous })
      .onConflictDoNothing();
  }
  const base = {
    type: 'reaction_update',
    channel: access.channel.name,
    message_id: messageId,
    emoji,
    action: removed.length ? 'remove' : 'add',
  };
  const real = { ...base, user_id: actor.userId, username: actor.username };
  if (!anonymous) {
    await publishChatEvent(deps, { channel_id: access.channel.id, frame: real });
    return real;
  }
  const moderatorIds = await moderatorIdsOf(deps.db, access.channel.id);
  await publishChatEvent(deps, {
    channel_id: access.channel.id,
    frame: { ...base, user_id: null, username: 'Anonymous' },
    real: { frame: real, user_ids: [actor.userId, ...moderatorIds] },
  });
  return real;
}

/** Moderator+ only. */
export async function setPinned(deps: ChatDeps, actor: ChatActor, messageId: number, pinned: boolean) {
  const { m, access } = await messageForActor(deps, actor, messageId);
  assertModerator(access);
  await assertActive(deps.db, actor.userId);
  if ((m.row.pinnedAt !== null) === pinned)
    throw new AppError('BAD_REQUEST', pinned ? 'Message is already pinned' : 'Message is not pinned');
  await deps.db
    .update(chatMessages)
    .set(pinned ? { pinnedAt: new Date(), pinnedBy: actor.userId } : { pinnedAt: null, pinnedBy: null })
    .where(eq(chatMessages.id, messageId));
  const frame = pinned
    ? {
        type: 'message_pinned',
        channel: access.channel.name,
        message_id: messageId,
        pinned_by: actor.userId,
        pinned_by_username: actor.username,
      }
    : { type: 'message_unpinned', channel: access.channel.name, message_id: messageId };
  await publishChatEvent(deps, { channel_id: access.channel.id, frame });
  return frame;
}

/** The caller's read marker for the message's channel; it only moves forward. */
export async function markRead(deps: ChatDeps, actor: ChatActor, messageId: number) {
  const { access } = await messageForActor(deps, actor, messageId);
  await deps.db
    .insert(chatReads)
    .values({ userId: actor.userId, channelId: access.channel.id, lastReadId: messageId })
    .onConflictDoUpdate({
      target: [chatReads.userId, chatReads.channelId],
      set: { lastReadId: sql`greatest(${chatReads.lastReadId}, ${messageId})`, updatedAt: new Date() },
    });
  return { channel: access.channel.name, message_id: messageId };
}

/** Relayed to the channel's other sockets, never stored; anonymous users type as "Anonymous". */
export async function announceTyping(deps: ChatDeps, actor: ChatActor, channelName: string) {
  const access = await readableChannel(deps.db, { name: channelName }, actor);
  const [me] = await deps.db
    .select({ anonymous: users.anonymous })
    .from(users)
    .where(eq(users.id, actor.userId));
  const anonymous = me?.anonymous ?? false;
  await publishChatEvent(deps, {
    channel_id: access.channel.id,
    frame: {
      type: 'typing',
      channel: access.channel.name,
      user_id: anonymous ? null : actor.userId,
      username: anonymous ? 'Anonymous' : actor.username,
    },
    except_user_id: actor.userId,
    hidden_from: await blockersOf(deps.db, actor.userId),
  });
}
