import { eq } from 'drizzle-orm';
import type { Bus } from '../../core/bus/types';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { users } from '../../db/schema';
import { USER_STATE_TOPIC, type UserStateMessage } from '../../services/rooms/events';
import { effectiveState, STATE } from '../../services/users/policy';

// Site-wide bans and timeouts stop room actions on /ws/portal (API.md §1 "WebSocket actions").
// Control frames are rare and read the state fresh; `input` (mouse moves, many per second) reads
// it from this cache: an entry lives `ttlMs`, and a ban or timeout drops it at once on every node
// through the Bus (services/rooms/control.ts applySiteRestriction), so the cache only delays
// the end of a restriction (an unban, or a timeout that was shortened), never its start.

type Entry = { active: boolean; expiresAt: Date | null; until: number };

export type UserStateCache = Awaited<ReturnType<typeof createUserStateCache>>;

/** Entries beyond this many trigger a purge of expired ones. */
const PURGE_AT = 10_000;

export const restricted = (expiresAt: Date | null) =>
  new AppError('FORBIDDEN', 'Your account is temporarily restricted', {
    ...(expiresAt && { expires_at: expiresAt.toISOString() }),
  });

export async function createUserStateCache(opts: { db: Db; bus: Bus; ttlMs: number }) {
  const entries = new Map<number, Entry>();
  const reading = new Map<number, Promise<Entry>>();
  /** Bumped by every invalidation: a read that overlapped one is answered but not cached. */
  let generation = 0;
  const invalidated = new Map<number, number>();

  async function read(userId: number): Promise<Entry> {
    const started = generation;
    const [row] = await opts.db
      .select({ state: users.state, expiresAt: users.stateExpiresAt })
      .from(users)
      .where(eq(users.id, userId));
    const active = row !== undefined && effectiveState(row.state, row.expiresAt) === STATE.ACTIVE;
    // A timeout that ends before the TTL is over ends for the cache then too.
    const ends = !active && row?.expiresAt ? row.expiresAt.getTime() : Number.POSITIVE_INFINITY;
    const entry = {
      active,
      expiresAt: row?.expiresAt ?? null,
      until: Math.min(Date.now() + opts.ttlMs, ends),
    };
    if ((invalidated.get(userId) ?? -1) >= started) return entry;
    if (entries.size >= PURGE_AT) {
      const now = Date.now();
      for (const [id, e] of entries) if (e.until <= now) entries.delete(id);
      invalidated.clear();
    }
    entries.set(userId, entry);
    return entry;
  }

  /** One read per user at a time; callers that arrive meanwhile share it (and keep their order). */
  function load(userId: number): Promise<Entry> {
    let pending = reading.get(userId);
    if (!pending) {
      pending = read(userId).finally(() => reading.delete(userId));
      reading.set(userId, pending);
    }
    return pending;
  }

  const unsubscribe = await opts.bus.subscribe(USER_STATE_TOPIC, (raw) => {
    const userId = (raw as UserStateMessage).user_id;
    entries.delete(userId);
    invalidated.set(userId, generation++);
  });

  return {
    /** The cached state while fresh, else undefined (then call `check`). */
    peek(userId: number): Entry | undefined {
      const entry = entries.get(userId);
      return entry && entry.until > Date.now() && !reading.has(userId) ? entry : undefined;
    },
    /** The state, read from the database unless cached (`fresh`: always read). */
    check(userId: number, fresh = false): Promise<Entry> {
      const cached = fresh ? undefined : this.peek(userId);
      return cached ? Promise.resolve(cached) : load(userId);
    },
    close: () => unsubscribe(),
  };
}
