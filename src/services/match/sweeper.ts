import { asc, sql } from 'drizzle-orm';
import type { Logger } from '../../core/log';
import { matchQueue } from '../../db/schema';
import { isRestricted } from './eligibility';
import { pairUser } from './pairing';
import type { MatchDeps } from './types';

// Pairing on enqueue alone would strand users: two picky users who do not fit each other become
// pairable only when one of them passes the fallback, and nobody calls enqueue at that moment.
// So every node sweeps the queue about once a second. Sweeps on several nodes overlap safely
// (pairing.ts locks with SKIP LOCKED); each tick does bounded work so a deep queue cannot make
// one tick hold the database (PGlite serves one query at a time) or the event loop for long.
// A tick walks the queue in (enqueued_at, user_id) order from where the previous tick stopped
// and wraps around at the end: entries nobody can pair (blocked by everyone, in the cooldown
// with everyone waiting) never stop the sweep from reaching the entries behind them.

export const MATCH_SWEEP = {
  INTERVAL_MS: 1000,
  /** Seekers examined per tick. */
  MAX_SEEKERS: 200,
  /** A tick stops starting new pairings after this long. */
  BUDGET_MS: 500,
} as const;

/**
 * Where the next tick starts: after this entry. The time is PostgreSQL's own text form, so the
 * comparison keeps microseconds (a JS Date would round them off and revisit a page forever).
 */
export type SweepCursor = { enqueuedAt: string; userId: number };

export type SweepResult = {
  pairs: number;
  purged: number;
  examined: number;
  /** Null: the tick reached the end of the queue; the next one starts at the oldest entry. */
  cursor: SweepCursor | null;
};

export type SweepOptions = { maxSeekers?: number; budgetMs?: number; cursor?: SweepCursor | null };

/**
 * One tick: drops entries of users banned or timed out while they waited (they are refused, so
 * they leave the queue), then tries to pair the next `maxSeekers` entries after `cursor`.
 */
export async function sweepMatchQueue(deps: MatchDeps, opts: SweepOptions = {}): Promise<SweepResult> {
  const started = performance.now();
  const maxSeekers = opts.maxSeekers ?? MATCH_SWEEP.MAX_SEEKERS;
  const purged = await deps.db
    .delete(matchQueue)
    .where(isRestricted)
    .returning({ userId: matchQueue.userId });
  const after = opts.cursor;
  const seekers = await deps.db
    .select({ userId: matchQueue.userId, enqueuedAt: sql<string>`${matchQueue.enqueuedAt}::text` })
    .from(matchQueue)
    .where(
      after
        ? sql`(${matchQueue.enqueuedAt}, ${matchQueue.userId}) > (${after.enqueuedAt}::timestamptz, ${after.userId}::int)`
        : undefined,
    )
    .orderBy(asc(matchQueue.enqueuedAt), asc(matchQueue.userId))
    .limit(maxSeekers);
  const paired = new Set<number>();
  let examined = 0;
  let cursor: SweepCursor | null = seekers.length < maxSeekers ? null : lastOf(seekers);
  for (const [i, seeker] of seekers.entries()) {
    if (performance.now() - started > (opts.budgetMs ?? MATCH_SWEEP.BUDGET_MS)) {
      // Out of time: the next tick resumes with this seeker.
      cursor = i > 0 ? lastOf(seekers.slice(0, i)) : (after ?? null);
      break;
    }
    if (paired.has(seeker.userId)) continue;
    examined++;
    const pairing = await pairUser(deps, seeker.userId);
    if (pairing) {
      paired.add(pairing.seeker.id);
      paired.add(pairing.partner.id);
    }
  }
  return { pairs: paired.size / 2, purged: purged.length, examined, cursor };
}

const lastOf = (rows: SweepCursor[]): SweepCursor => {
  const last = rows[rows.length - 1]!;
  return { enqueuedAt: last.enqueuedAt, userId: last.userId };
};

/** Consecutive ticks over one queue: each continues where the previous one stopped. */
export function createMatchSweep(deps: MatchDeps, opts: Omit<SweepOptions, 'cursor'> = {}) {
  let cursor: SweepCursor | null = null;
  return {
    async tick(): Promise<SweepResult> {
      const result = await sweepMatchQueue(deps, { ...opts, cursor });
      cursor = result.cursor;
      return result;
    },
  };
}

/** Sweeps every `intervalMs` on an unref'd timer until `stop()`, which waits for a running tick. */
export function startMatchSweeper(opts: { deps: MatchDeps; log: Logger; intervalMs?: number }) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const sweep = createMatchSweep(opts.deps);
  const tick = () => {
    running = (async () => {
      try {
        const result = await sweep.tick();
        if (result.pairs > 0 || result.purged > 0) opts.log.debug(result, 'match sweep');
      } catch (err) {
        opts.log.error({ err }, 'match sweep failed');
      }
      // The next tick is scheduled after this one ends, so ticks never overlap on one node.
      if (!stopped) schedule();
    })();
  };
  const schedule = () => {
    timer = setTimeout(tick, opts.intervalMs ?? MATCH_SWEEP.INTERVAL_MS);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
