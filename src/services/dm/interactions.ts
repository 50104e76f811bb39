import { and, eq, sql } from 'drizzle-orm';
import { dmMessages, dmParticipants, dmReactions } from '../../db/schema';
import { assertActive } from '../chat/access';
import { audienceOf, messageOf, requireParticipant } from './access';
import { publishDmEvent } from './events';
import type { DmActor, DmDeps } from './types';
import { dmMessagePage } from './views';

// Reactions, read markers, typing and history of DMs (seed 002 "DM Client Messages"): small
// actions on a message or a conversation, announced to its participants through the Bus.

/** Adds the reaction if absent, removes it if present. */
export async function reactDm(
  deps: DmDeps,
  actor: DmActor,
  conversationId: number,
  messageId: number,
  emoji: string,
) {
  await messageOf(deps, actor, conversationId, messageId, null);
  await assertActive(deps.db, actor.userId);
  const added = await deps.db
    .insert(dmReactions)
    .values({ messageId, userId: actor.userId, emoji })
    .onConflictDoNothing()
    .returning({ emoji: dmReactions.emoji });
  if (added.length === 0) {
    await deps.db
      .delete(dmReactions)
      .where(
        and(
          eq(dmReactions.messageId, messageId),
          eq(dmReactions.userId, actor.userId),
          eq(dmReactions.emoji, emoji),
        ),
      );
  }
  const frame = {
    type: 'dm_reaction_update',
    conversation_id: conversationId,
    message_id: messageId,
    emoji,
    action: added.length ? 'add' : 'remove',
    user_id: actor.userId,
    username: actor.username,
  };
  await publishDmEvent(deps, { user_ids: await audienceOf(deps, conversationId, actor.userId), frame });
  return frame;
}

/** Moves the caller's read marker to the newest message (never backwards). */
export async function markDmRead(deps: DmDeps, actor: DmActor, conversationId: number) {
  await requireParticipant(deps.db, conversationId, actor.userId);
  await deps.db
    .update(dmParticipants)
    .set({
      lastReadId: sql`greatest(${dmParticipants.lastReadId}, coalesce((select max(${dmMessages.id}) from ${dmMessages} where ${dmMessages.conversationId} = ${conversationId}), 0))`,
    })
    .where(and(eq(dmParticipants.conversationId, conversationId), eq(dmParticipants.userId, actor.userId)));
  return { success: true as const };
}

/** `dm_typing` to the other participants (not to the typist's own sockets). */
export async function typingDm(deps: DmDeps, actor: DmActor, conversationId: number) {
  await requireParticipant(deps.db, conversationId, actor.userId);
  const to = (await audienceOf(deps, conversationId, actor.userId)).filter((id) => id !== actor.userId);
  const frame = {
    type: 'dm_typing',
    conversation_id: conversationId,
    user_id: actor.userId,
    username: actor.username,
  };
  await publishDmEvent(deps, { user_ids: to, frame });
}

/** A page of history, newest first (REST and `dm_history`). */
export async function dmHistory(
  deps: DmDeps,
  actor: DmActor,
  input: { conversation_id: number; before_id?: number | undefined; limit: number },
) {
  await requireParticipant(deps.db, input.conversation_id, actor.userId);
  return dmMessagePage(deps, input.conversation_id, actor.userId, {
    limit: input.limit,
    beforeId: input.before_id,
  });
}
