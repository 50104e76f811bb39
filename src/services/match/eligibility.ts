import { type SQL, sql } from 'drizzle-orm';
import { matchQueue, users } from '../../db/schema';
import { STATE } from '../users/policy';

// SQL conditions on a `match_queue` row joined with its `users` row, shared by the pairing query,
// the sweeper's purge and the bench. Everything is evaluated by the database at the moment the
// row is locked, so a ban or timeout that lands while someone waits is always seen.

// The users conditions are scalar subqueries on purpose: the planner never turns them into a join,
// so every query here is driven by match_queue (walked in enqueued_at order) and stops at the first
// fit. As a join, a planner without statistics (PGlite has no autovacuum) started from a scan of
// all users and sorted the result, which costs O(users) per pairing attempt.

const userRow = (condition: SQL) =>
  sql`coalesce((select ${condition} from users where users.id = ${matchQueue.userId}), false)`;

/** Active now: not banned, and not in a timeout that is still running (an expired one is over). */
export const isActive = userRow(sql`(${users.state} = ${STATE.ACTIVE} or (${users.state} = ${STATE.TIMEOUT}
  and ${users.stateExpiresAt} is not null and ${users.stateExpiresAt} <= now()))`);

/** Banned, or timed out right now: such queue entries are refused and purged. */
export const isRestricted =
  userRow(sql`(${users.state} = ${STATE.BANNED} or (${users.state} = ${STATE.TIMEOUT}
  and (${users.stateExpiresAt} is null or ${users.stateExpiresAt} > now())))`);

/** The queue entry's username (read for the one row a query returns). */
export const usernameOf = sql<string>`(select users.username from users where users.id = ${matchQueue.userId})`;

/**
 * Not a member of any direct room. Enqueue refuses users with a partner and leaves abandoned direct
 * rooms first, so this only bites in a race (a re-enqueue committed while the old entry was being
 * paired): the user then waits in the queue but is never paired a second time.
 */
export const notInDirectRoom = sql`not exists (select 1 from room_members rm
  join rooms r on r.id = rm.room_id and r.kind = 'direct' where rm.user_id = ${matchQueue.userId})`;

/** Waited at least `fallbackSeconds`: from then on the entry accepts, and is accepted by, anyone. */
export const waitedPast = (fallbackSeconds: number) =>
  sql`${matchQueue.enqueuedAt} <= now() - (${fallbackSeconds}::int * interval '1 second')`;

/** A text[] literal built from bind parameters (works the same on postgres.js and PGlite). */
export const textArray = (items: string[]): SQL =>
  sql`array[${sql.join(
    items.map((item) => sql`${item}`),
    sql`, `,
  )}]::text[]`;

/** Neither has blocked the other (API.md §5: blocking counts both ways). */
export const notBlockedWith = (userId: number) => sql`not exists (select 1 from blocks b
  where (b.blocker_id = ${userId} and b.blocked_id = ${matchQueue.userId})
     or (b.blocker_id = ${matchQueue.userId} and b.blocked_id = ${userId}))`;

/** Not paired with `userId` within the cooldown (`match_history` spells each pair low < high). */
export const notRecentlyPairedWith = (userId: number, cooldownMinutes: number) =>
  cooldownMinutes <= 0
    ? sql`true`
    : sql`not exists (select 1 from match_history h
  where h.user_low = least(${userId}::int, ${matchQueue.userId})
    and h.user_high = greatest(${userId}::int, ${matchQueue.userId})
    and h.created_at > now() - (${cooldownMinutes}::int * interval '1 minute'))`;
