import { eq, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { matchQueue } from '../../db/schema';
import { announceLeft, directRoomsOf, findActiveMatch, leaveDirectRoom } from './direct-rooms';
import { announcePairing, pairWithin } from './pairing';
import type { MatchDeps, MatchPreferences, MatchStatus } from './types';

// The queue side of API.md §5 "Matchmaking". Decisions (docs/matchmaking.md):
// - enqueue while queued is idempotent: it replaces interests/language and keeps the original
//   queue time, so the fallback clock keeps running and nobody loses their place;
// - enqueue while the partner is still in the direct chat is 409 "Leave your current match
//   first"; a direct chat the partner already left is left (and so deleted) automatically;
// - enqueue tries to pair at once; whoever is not paired waits for the per-node sweeper.

const queuedView = (row: {
  enqueuedAt: Date;
  waiting: number;
  interests: string[];
  language: string | null;
}) => ({
  status: 'queued' as const,
  queued_at: row.enqueuedAt.toISOString(),
  waiting_seconds: row.waiting,
  interests: row.interests,
  language: row.language,
});

async function queueEntryOf(db: Db, userId: number) {
  const [row] = await db
    .select({
      enqueuedAt: matchQueue.enqueuedAt,
      interests: matchQueue.interests,
      language: matchQueue.language,
      waiting: sql<number>`floor(extract(epoch from now() - ${matchQueue.enqueuedAt}))::int`,
    })
    .from(matchQueue)
    .where(eq(matchQueue.userId, userId));
  return row ?? null;
}

/** `GET /match/status`: matched (partner still present) wins over queued; otherwise idle. */
export async function getMatchStatus(deps: Pick<MatchDeps, 'db'>, userId: number): Promise<MatchStatus> {
  const match = await findActiveMatch(deps.db, userId);
  if (match) return { status: 'matched', room_id: match.roomId, partner: match.partner };
  const entry = await queueEntryOf(deps.db, userId);
  return entry ? queuedView(entry) : { status: 'idle' };
}

export type EnqueueResult =
  | (ReturnType<typeof queuedView> & { status: 'queued' })
  | {
      status: 'matched';
      queued_at: string;
      room_id: number;
      partner: { id: number; username: string };
    };

/**
 * `POST /match/enqueue`: joins (or updates) the caller's queue entry and tries to pair it, all in
 * one transaction. The upsert comes first: if another node is pairing the old entry right now, the
 * upsert waits for it, and the membership check after it then sees the new direct room (409).
 */
export async function enqueueMatch(
  deps: MatchDeps,
  opts: { userId: number } & Partial<MatchPreferences>,
): Promise<EnqueueResult> {
  const { userId } = opts;
  const preferences = { interests: opts.interests ?? [], language: opts.language ?? null };
  const { abandoned, entry, seeker, pairing } = await deps.db.transaction(async (raw) => {
    const tx = raw as unknown as Db;
    const [entry] = await tx
      .insert(matchQueue)
      .values({ userId, ...preferences })
      .onConflictDoUpdate({ target: matchQueue.userId, set: preferences })
      .returning({ enqueuedAt: matchQueue.enqueuedAt });
    const direct = await directRoomsOf(tx, userId);
    if (direct.some((room) => room.members > 1))
      throw new AppError('CONFLICT', 'Leave your current match first');
    const abandoned = [];
    for (const room of direct) abandoned.push(await leaveDirectRoom(tx, room.roomId, userId));
    // Our own row lock never makes SKIP LOCKED skip our own entry.
    return { abandoned, entry: entry!, ...(await pairWithin(tx, deps, userId)) };
  });
  for (const left of abandoned) await announceLeft(deps, left, userId);

  const queuedAt = entry.enqueuedAt.toISOString();
  if (pairing) {
    await announcePairing(deps, pairing);
    return { status: 'matched', queued_at: queuedAt, room_id: pairing.roomId, partner: pairing.partner };
  }
  return queuedView({
    enqueuedAt: entry.enqueuedAt,
    // Null only for a user restricted meanwhile: the next sweep drops the entry.
    waiting: seeker?.waitingSeconds ?? 0,
    ...preferences,
  });
}

/** `POST /match/dequeue`: idempotent; `removed` says whether there was an entry. */
export async function dequeueMatch(deps: Pick<MatchDeps, 'db'>, userId: number) {
  const removed = await deps.db
    .delete(matchQueue)
    .where(eq(matchQueue.userId, userId))
    .returning({ userId: matchQueue.userId });
  return { success: true as const, removed: removed.length > 0 };
}
