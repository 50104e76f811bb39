import { sql } from 'drizzle-orm';
import { chatPolls } from '../../db/schema';
import { announceClosed } from './polls';
import type { ChatDeps } from './types';

// Closes polls whose `closes_at` passed. State lives in the database only, so a poll due while the
// server was down closes on the next start. The conditional update is the claim: when several
// nodes run the job, exactly one of them gets each row back and announces it.

const BATCH = 100;

type CloserDeps = ChatDeps & { log: ChatDeps['log'] & { info?(obj: object, msg?: string): void } };

export async function closeDuePolls(deps: ChatDeps, limit = BATCH): Promise<number> {
  const due = sql`select ${chatPolls.id} from ${chatPolls}
    where ${chatPolls.closedAt} is null and ${chatPolls.closesAt} <= now()
    order by ${chatPolls.closesAt} limit ${limit}`;
  const closed = await deps.db
    .update(chatPolls)
    .set({ closedAt: sql`now()` })
    .where(sql`${chatPolls.id} in (${due}) and ${chatPolls.closedAt} is null`)
    .returning();
  for (const row of closed) await announceClosed(deps, row);
  return closed.length;
}

/** Starts the per-node job; the returned function stops it. */
export function startPollCloser(deps: CloserDeps, intervalMs = 5_000): () => void {
  let running = false;
  const tick = async () => {
    if (running) return; // a slow database must not stack ticks
    running = true;
    try {
      await closeDuePolls(deps);
    } catch (err) {
      deps.log.warn({ err }, 'closing due polls failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  void tick(); // polls that fell due while the server was down
  return () => clearInterval(timer);
}
