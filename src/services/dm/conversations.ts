import { and, eq, inArray } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { dmConversations, dmParticipants, users } from '../../db/schema';
import { assertActive } from '../chat/access';
import { announceVoiceRoomEvent, dmVoiceRoom } from '../voice/room-events';
import { assertNotBlocked, participantIdsOf, requireParticipant } from './access';
import { publishDmEvent } from './events';
import { conversationEntry, listConversations } from './list';
import { DM_LIMITS, type DmActor, type DmDeps, directKeyOf } from './types';
import { briefParticipant, participantsOf } from './views';

// Creating conversations and changing who is in them (seed 002 "Direct Messages"): 1:1 creation is
// idempotent through the unique `direct_key`; groups hold at most 10 people, the creator included.

async function assertUsersExist(db: Db, ids: number[]) {
  if (ids.length === 0) return;
  const found = await db.select({ id: users.id }).from(users).where(inArray(users.id, ids));
  if (found.length !== new Set(ids).size) throw new AppError('NOT_FOUND', 'User not found');
}

const tooMany = () =>
  new AppError('BAD_REQUEST', `A conversation can have at most ${DM_LIMITS.MAX_PARTICIPANTS} participants`);

async function brief(db: Db, conversationId: number) {
  return ((await participantsOf(db, [conversationId])).get(conversationId) ?? []).map(briefParticipant);
}

/** The POST response: `{id, type, name, participants, created_at}`. */
async function created(db: Db, c: typeof dmConversations.$inferSelect) {
  return {
    id: c.id,
    type: c.type as 'direct' | 'group',
    name: c.name,
    participants: await brief(db, c.id),
    created_at: c.createdAt.toISOString(),
  };
}

/** `dm_conversations_list` (its first page) to one user's sockets. */
export async function pushConversationList(deps: DmDeps, userId: number) {
  const list = await listConversations(deps, userId);
  await publishDmEvent(deps, { user_ids: [userId], frame: { type: 'dm_conversations_list', ...list } });
}

/**
 * The targeted update of one conversation (not in seed 002, which lists no event for it):
 * `dm_conversation_updated {conversation}`, the conversation as each user's list shows it
 * (participants, last message, unread count and mute differ per user), so a client changes one
 * entry instead of rebuilding the list. Sent when members join or leave and after `dm_mark_read`.
 */
export async function pushConversationUpdates(deps: DmDeps, conversationId: number, userIds: number[]) {
  for (const userId of new Set(userIds)) {
    const conversation = await conversationEntry(deps, userId, conversationId);
    if (!conversation) continue;
    await publishDmEvent(deps, {
      user_ids: [userId],
      frame: { type: 'dm_conversation_updated', conversation },
    });
  }
}

/** The existing 1:1 conversation with `targetId`, or a new one. */
export async function openDirect(deps: DmDeps, actor: DmActor, targetId: number) {
  const { db } = deps;
  if (targetId === actor.userId) throw new AppError('BAD_REQUEST', 'You cannot message yourself');
  await assertUsersExist(db, [targetId]);
  await assertActive(db, actor.userId);
  await assertNotBlocked(db, actor.userId, [targetId]);
  const directKey = directKeyOf(actor.userId, targetId);
  // Two first messages racing: the unique index keeps one row, and both callers read it back.
  const [made] = await db
    .insert(dmConversations)
    .values({ type: 'direct', directKey, createdBy: actor.userId })
    .onConflictDoNothing()
    .returning();
  if (made) {
    await db.insert(dmParticipants).values([
      { conversationId: made.id, userId: actor.userId },
      { conversationId: made.id, userId: targetId },
    ]);
    return created(db, made);
  }
  const [existing] = await db.select().from(dmConversations).where(eq(dmConversations.directKey, directKey));
  return created(db, existing!);
}

export async function createGroup(
  deps: DmDeps,
  actor: DmActor,
  input: { user_ids: number[]; name?: string | null | undefined },
) {
  const { db } = deps;
  const others = [...new Set(input.user_ids)].filter((id) => id !== actor.userId);
  if (others.length === 0) throw new AppError('BAD_REQUEST', 'user_ids must name at least one other user');
  if (others.length + 1 > DM_LIMITS.MAX_PARTICIPANTS) throw tooMany();
  await assertUsersExist(db, others);
  await assertActive(db, actor.userId);
  await assertNotBlocked(db, actor.userId, others);
  const name = input.name?.trim() || null;
  const c = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(dmConversations)
      .values({ type: 'group', name, createdBy: actor.userId })
      .returning();
    await tx
      .insert(dmParticipants)
      .values([actor.userId, ...others].map((userId) => ({ conversationId: row!.id, userId })));
    return row!;
  });
  // Seed 002: the list goes out "on group creation" (to its creator); the others get the new entry.
  await pushConversationList(deps, actor.userId);
  await pushConversationUpdates(deps, c.id, others);
  return created(db, c);
}

export async function setMuted(deps: DmDeps, actor: DmActor, conversationId: number, muted: boolean) {
  await requireParticipant(deps.db, conversationId, actor.userId);
  await deps.db
    .update(dmParticipants)
    .set({ muted })
    .where(and(eq(dmParticipants.conversationId, conversationId), eq(dmParticipants.userId, actor.userId)));
  return { success: true as const, muted };
}

const groupsOnly = (action: string) => new AppError('BAD_REQUEST', `Only group conversations can ${action}`);

/** Groups only; the conversation stays for the others (and goes when the last one leaves). */
export async function leaveGroup(deps: DmDeps, actor: DmActor, conversationId: number) {
  const { conversation } = await requireParticipant(deps.db, conversationId, actor.userId);
  if (conversation.type !== 'group') throw groupsOnly('be left');
  await deps.db
    .delete(dmParticipants)
    .where(and(eq(dmParticipants.conversationId, conversationId), eq(dmParticipants.userId, actor.userId)));
  const left = await participantIdsOf(deps.db, conversationId);
  if (left.length === 0) await deps.db.delete(dmConversations).where(eq(dmConversations.id, conversationId));
  // The leaver's other sockets drop it; the others see who is left; the leaver's voice there ends.
  await publishDmEvent(deps, {
    user_ids: [actor.userId],
    frame: { type: 'dm_conversation_removed', conversation_id: conversationId },
  });
  await pushConversationUpdates(deps, conversationId, left);
  await announceVoiceRoomEvent(deps, { kind: 'recheck', room: dmVoiceRoom(conversationId) });
  return { success: true as const };
}

/** Groups only, by any participant; the total stays within 10. */
export async function addParticipants(
  deps: DmDeps,
  actor: DmActor,
  conversationId: number,
  userIds: number[],
) {
  const { db } = deps;
  const { conversation } = await requireParticipant(db, conversationId, actor.userId);
  if (conversation.type !== 'group') throw groupsOnly('take new participants');
  await assertActive(db, actor.userId);
  const current = new Set(await participantIdsOf(db, conversationId));
  const added = [...new Set(userIds)].filter((id) => !current.has(id));
  if (current.size + added.length > DM_LIMITS.MAX_PARTICIPANTS) throw tooMany();
  await assertUsersExist(db, added);
  await assertNotBlocked(db, actor.userId, added);
  if (added.length > 0) {
    await db
      .insert(dmParticipants)
      .values(added.map((userId) => ({ conversationId, userId })))
      .onConflictDoNothing();
    // Everyone in it, new and old, gets the conversation with its new participants.
    await pushConversationUpdates(deps, conversationId, [...current, ...added]);
  }
  return { success: true as const, participants: await brief(db, conversationId) };
}
