import { and, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { dmConversations, dmMessages, dmParticipants } from '../../db/schema';
import { blockersOf } from '../chat/publish';
import { isBlockedEitherWay } from '../users/blocks';
import type { DmActor, DmDeps } from './types';

// Who may see a conversation: its participants, nobody else (not even Admin+: DMs are private).
// Everyone else gets the same 404, so conversation ids cannot be probed.

export const conversationNotFound = () => new AppError('NOT_FOUND', 'Conversation not found');

/** The conversation and the caller's participant row; 404 for non-participants. */
export async function requireParticipant(db: Db, conversationId: number, userId: number) {
  const [row] = await db
    .select({ conversation: dmConversations, me: dmParticipants })
    .from(dmParticipants)
    .innerJoin(dmConversations, eq(dmConversations.id, dmParticipants.conversationId))
    .where(and(eq(dmParticipants.conversationId, conversationId), eq(dmParticipants.userId, userId)));
  if (!row) throw conversationNotFound();
  return row;
}

/** For voice rooms `dm:{id}`: is the user a participant of that conversation? */
export async function isDmParticipant(db: Db, conversationId: number, userId: number): Promise<boolean> {
  const [row] = await db
    .select({ userId: dmParticipants.userId })
    .from(dmParticipants)
    .where(and(eq(dmParticipants.conversationId, conversationId), eq(dmParticipants.userId, userId)));
  return row !== undefined;
}

export async function participantIdsOf(db: Db, conversationId: number): Promise<number[]> {
  const rows = await db
    .select({ userId: dmParticipants.userId })
    .from(dmParticipants)
    .where(eq(dmParticipants.conversationId, conversationId));
  return rows.map((r) => r.userId);
}

/** A block either way between the actor and any other participant forbids the action. */
export async function assertNotBlocked(db: Db, actorId: number, otherIds: number[]) {
  for (const other of otherIds) {
    if (other !== actorId && (await isBlockedEitherWay(db, actorId, other)))
      throw new AppError('FORBIDDEN', 'You cannot message this user');
  }
}

/** Participants who should receive the actor's frames: all, minus those who blocked the actor. */
export async function audienceOf(deps: Pick<DmDeps, 'db'>, conversationId: number, actorId: number) {
  const ids = await participantIdsOf(deps.db, conversationId);
  const blockers = new Set(await blockersOf(deps.db, actorId));
  return ids.filter((id) => !blockers.has(id));
}

/** A message of this conversation, with the caller a participant (404 otherwise). */
export async function messageOf(
  deps: Pick<DmDeps, 'db'>,
  actor: DmActor,
  conversationId: number,
  messageId: number,
  verb: 'edit' | 'delete' | null,
) {
  await requireParticipant(deps.db, conversationId, actor.userId);
  const [m] = await deps.db
    .select()
    .from(dmMessages)
    .where(and(eq(dmMessages.id, messageId), eq(dmMessages.conversationId, conversationId)));
  if (!m) throw new AppError('NOT_FOUND', 'Message not found');
  if (verb !== null && m.userId !== actor.userId)
    throw new AppError('FORBIDDEN', `You can only ${verb} your own messages`);
  return m;
}
