import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { matchHistory, matchQueue } from '../../db/schema';
import { createDirectRoom } from '../rooms/direct';
import { publishUserEvent } from '../rooms/events';
import {
  isActive,
  notBlockedWith,
  notInDirectRoom,
  notRecentlyPairedWith,
  textArray,
  usernameOf,
  waitedPast,
} from './eligibility';
import { type MatchDeps, type MatchPartner, matchFoundEvent } from './types';

// One pairing = one short transaction that locks the seeker's queue row and one partner's with
// `FOR UPDATE SKIP LOCKED`, deletes both rows, and creates the direct room and the history row.
// Cluster safety (docs/matchmaking.md): a queue row can be locked by one transaction only and is
// deleted by the one that pairs it, so no user is ever paired twice, whichever node runs it; SKIP
// LOCKED means no transaction ever waits for another, so there are no deadlocks either. Rows a
// concurrent transaction holds are simply left to it (or to the next sweep).

export type Seeker = {
  userId: number;
  username: string;
  interests: string[];
  language: string | null;
  enqueuedAt: Date;
  /** Waited past the fallback: accepts anyone. */
  flexible: boolean;
  waitingSeconds: number;
};

export type Pairing = {
  roomId: number;
  /** When the seeker (the caller of `pairUser`) entered the queue. */
  queuedAt: Date;
  seeker: MatchPartner;
  partner: MatchPartner;
};

async function lockSeeker(tx: Db, userId: number, fallbackSeconds: number): Promise<Seeker | null> {
  const [row] = await tx
    .select({
      userId: matchQueue.userId,
      username: usernameOf,
      interests: matchQueue.interests,
      language: matchQueue.language,
      enqueuedAt: matchQueue.enqueuedAt,
      flexible: sql<boolean>`${waitedPast(fallbackSeconds)}`,
      waitingSeconds: sql<number>`floor(extract(epoch from now() - ${matchQueue.enqueuedAt}))::int`,
    })
    .from(matchQueue)
    .where(and(eq(matchQueue.userId, userId), isActive, notInDirectRoom))
    .for('update', { of: matchQueue, skipLocked: true });
  return row ?? null;
}

/** The candidate meets the seeker's own preferences. */
function suitsSeeker(seeker: Seeker) {
  return and(
    seeker.interests.length ? sql`${matchQueue.interests} ?| ${textArray(seeker.interests)}` : undefined,
    seeker.language ? eq(matchQueue.language, seeker.language) : undefined,
  );
}

/** The seeker meets the candidate's preferences, or the candidate has waited past the fallback. */
function suitsCandidate(seeker: Seeker, fallbackSeconds: number) {
  const sharesInterest = seeker.interests.length
    ? sql` or ${matchQueue.interests} ?| ${textArray(seeker.interests)}`
    : sql``;
  const sameLanguage = seeker.language ? sql` or ${matchQueue.language} = ${seeker.language}` : sql``;
  return sql`(${waitedPast(fallbackSeconds)} or (
    (jsonb_array_length(${matchQueue.interests}) = 0${sharesInterest})
    and (${matchQueue.language} is null${sameLanguage})))`;
}

/** The longest-waiting acceptable partner, locked; `strict` also applies the seeker's preferences. */
async function lockPartner(tx: Db, seeker: Seeker, deps: MatchDeps, strict: boolean) {
  const [row] = await tx
    .select({ id: matchQueue.userId, username: usernameOf })
    .from(matchQueue)
    .where(
      and(
        ne(matchQueue.userId, seeker.userId),
        isActive,
        notInDirectRoom,
        notBlockedWith(seeker.userId),
        notRecentlyPairedWith(seeker.userId, deps.cooldownMinutes),
        suitsCandidate(seeker, deps.fallbackSeconds),
        strict ? suitsSeeker(seeker) : undefined,
      ),
    )
    .orderBy(asc(matchQueue.enqueuedAt))
    .limit(1)
    .for('update', { of: matchQueue, skipLocked: true });
  return row ?? null;
}

async function commitPair(tx: Db, seeker: Seeker, partner: MatchPartner): Promise<Pairing> {
  const ids: [number, number] = [seeker.userId, partner.id];
  const removed = await tx
    .delete(matchQueue)
    .where(inArray(matchQueue.userId, ids))
    .returning({ userId: matchQueue.userId });
  // Both rows are locked by this transaction, so this cannot happen; if it ever did, roll back.
  if (removed.length !== 2) throw new Error(`pairing expected 2 queue rows, deleted ${removed.length}`);
  const room = await createDirectRoom(tx, ids);
  await tx.insert(matchHistory).values({
    userLow: Math.min(...ids),
    userHigh: Math.max(...ids),
    roomId: room.id,
  });
  return {
    roomId: room.id,
    queuedAt: seeker.enqueuedAt,
    seeker: { id: seeker.userId, username: seeker.username },
    partner,
  };
}

/** Each user hears about the other; only after the commit, so nobody is told of a rolled-back room. */
export async function announcePairing(deps: MatchDeps, pairing: Pairing) {
  await Promise.all([
    publishUserEvent(deps, [pairing.seeker.id], matchFoundEvent(pairing.roomId, pairing.partner)),
    publishUserEvent(deps, [pairing.partner.id], matchFoundEvent(pairing.roomId, pairing.seeker)),
  ]);
}

/**
 * Inside `tx`: locks `userId`'s queue entry and, when someone fits, pairs it. `seeker` is null when
 * the entry is gone, held by another transaction (another node is pairing it) or may not be paired;
 * `pairing` is null when nobody fits yet. A seeker past the fallback still prefers a partner who
 * fits their preferences. Announce the pairing after the commit.
 */
export async function pairWithin(tx: Db, deps: MatchDeps, userId: number) {
  const seeker = await lockSeeker(tx, userId, deps.fallbackSeconds);
  if (!seeker) return { seeker: null, pairing: null };
  const picky = seeker.interests.length > 0 || seeker.language !== null;
  const partner =
    (await lockPartner(tx, seeker, deps, true)) ??
    (picky && seeker.flexible ? await lockPartner(tx, seeker, deps, false) : null);
  return { seeker, pairing: partner ? await commitPair(tx, seeker, partner) : null };
}

/** Tries to pair `userId`'s queue entry now, in its own transaction (the sweeper's way). */
export async function pairUser(deps: MatchDeps, userId: number): Promise<Pairing | null> {
  const { pairing } = await deps.db.transaction((tx) => pairWithin(tx as unknown as Db, deps, userId));
  if (pairing) await announcePairing(deps, pairing);
  return pairing;
}
