import { asc } from 'drizzle-orm';
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

export const MATCH_SWEEP = {
  INTERVAL_MS: 1000,
  /** Seekers examined per tick, oldest first. */
  MAX_SEEKERS: 200,
  /** A tick stops starting new pairings after this long. */
  BUDGET_MS: 500,
} as const;

export type SweepResult = { pairs: number; purged: number; examined: number };

/**
 * One tick: drops entries of users banned or timed out while they waited (they are refused, so
 * they leave the queue), then tries to pair the longest-waiting entries.
 */
export async function sweepMatchQueue(
  deps: MatchDeps,
  opts: { maxSeekers?: number; budgetMs?: number } = {},
): Promise<SweepResult> {
  const started = performance.now();
  const purged = await deps.db
    .delete(matchQueue)
    .where(isRestricted)
    .returning({ userId: matchQueue.userId });
  const seekers = await deps.db
    .select({ userId: matchQueue.userId })
    .from(matchQueue)
    .orderBy(asc(matchQueue.enqueuedAt))
    .limit(opts.maxSeekers ?? MATCH_SWEEP.MAX_SEEKERS);
  const paired = new Set<number>();
  let examined = 0;
  for (const { userId } of seekers) {
    if (performance.now() - started > (opts.budgetMs ?? MATCH_SWEEP.BUDGET_MS)) break;
    if (paired.has(userId)) continue;
    examined++;
    const pairing = await pairUser(deps, userId);
    if (pairing) {
      paired.add(pairing.seeker.id);
      paired.add(pairing.partner.id);
    }
  }
  return { pairs: paired.size / 2, purged: purged.length, examined };
}

/** Sweeps every `intervalMs` on an unref'd timer until `stop()`, which waits for a running tick. */
export function startMatchSweeper(opts: { deps: MatchDeps; log: Logger; intervalMs?: number }) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = (async () => {
      try {
        const result = await sweepMatchQueue(opts.deps);
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
