import { inArray, lt } from 'drizzle-orm';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { chatMessages, dmMessages } from '../../db/schema';

// Message retention (API.md §8): channel and DM messages older than CHAT_RETENTION_DAYS are deleted, and
// with each row its sealed text, its blind-index tokens and (by cascade) its reactions. Deletes go
// in bounded batches so one sweep never holds a long lock or builds a huge transaction, and chat
// keeps flowing between batches.

export const RETENTION_BATCH = 5_000;
export const RETENTION_SWEEP_MS = 10 * 60_000;
const DAY_MS = 86_400_000;

type MessageTable = typeof chatMessages | typeof dmMessages;

/** Deletes one batch of the oldest expired rows of `table`; returns how many went. */
const deleteBatch =
  (table: MessageTable) =>
  async (db: Db, cutoff: Date, batch: number): Promise<number> => {
    const expired = db
      .select({ id: table.id })
      .from(table)
      .where(lt(table.createdAt, cutoff))
      .orderBy(table.id)
      .limit(batch);
    const deleted = await db.delete(table).where(inArray(table.id, expired)).returning({ id: table.id });
    return deleted.length;
  };

// Every message table under retention.
const TABLES = { chat_messages: deleteBatch(chatMessages), dm_messages: deleteBatch(dmMessages) } as const;

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
  for (const [table, deleteBatch] of Object.entries(TABLES)) {
    byTable[table] = 0;
    for (;;) {
      if (opts.shouldStop?.()) break;
      const count = await deleteBatch(opts.db, cutoff, batch);
      byTable[table] += count;
      deleted += count;
      if (count > 0) opts.log?.debug({ table, count }, 'retention batch deleted');
      if (count < batch) break;
    }
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
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const sweep = () => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        const result = await runRetention({ ...opts, shouldStop: () => stopped });
        if (result.deleted > 0)
          opts.log.info({ ...result, retention_days: opts.days }, 'expired chat messages deleted');
      } catch (err) {
        opts.log.error({ err }, 'chat retention sweep failed');
      }
    });
  };
  sweep();
  const timer = setInterval(sweep, opts.intervalMs ?? RETENTION_SWEEP_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
