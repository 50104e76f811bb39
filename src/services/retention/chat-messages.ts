import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { chatMessages, dmMessages } from '../../db/schema';
import { DAY_MS, deleteExpiredBatch, drainBatches, RETENTION_BATCH, startSweeps } from './batches';

export { RETENTION_BATCH, RETENTION_SWEEP_MS } from './batches';

// Message retention (API.md §8): channel and DM messages older than CHAT_RETENTION_DAYS are deleted, and
// with each row its sealed text, its blind-index tokens and (by cascade) its reactions. Deletes go
// in bounded batches so one sweep never holds a long lock or builds a huge transaction, and chat
// keeps flowing between batches.

// Every message table under retention.
const TABLES = { chat_messages: chatMessages, dm_messages: dmMessages } as const;

export type RetentionResult = { deleted: number; byTable: Record<string, number> };

/**
 * One full sweep: batch after batch until nothing older than `days` is left (or `shouldStop`).
 * Tests call it directly with their own `now` and a small `batch`.
 */
export async function runRetention(opts: {
  db: Db;
  days: number;
  now?: Date;
  batch?: number;
  log?: Logger;
  shouldStop?: () => boolean;
}): Promise<RetentionResult> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.days * DAY_MS);
  const batch = opts.batch ?? RETENTION_BATCH;
  const byTable: Record<string, number> = {};
  let deleted = 0;
  for (const [name, table] of Object.entries(TABLES)) {
    const count = await drainBatches(
      async () => {
        const n = await deleteExpiredBatch(opts.db, table, cutoff, batch);
        if (n > 0) opts.log?.debug({ table: name, count: n }, 'retention batch deleted');
        return n;
      },
      batch,
      opts.shouldStop,
    );
    byTable[name] = count;
    deleted += count;
  }
  return { deleted, byTable };
}

/**
 * Sweeps once shortly after start (not awaited: a backlog after downtime must not delay startup)
 * and then every `intervalMs` on an unref'd timer. `stop()` ends a sweep between batches.
 */
export function startChatRetention(opts: {
  db: Db;
  log: Logger;
  days: number;
  intervalMs?: number;
  batch?: number;
}) {
  return startSweeps({
    log: opts.log,
    what: 'chat',
    ...(opts.intervalMs !== undefined && { intervalMs: opts.intervalMs }),
    sweep: async (shouldStop) => {
      const result = await runRetention({ ...opts, shouldStop });
      if (result.deleted > 0)
        opts.log.info({ ...result, retention_days: opts.days }, 'expired chat messages deleted');
    },
  });
}
