import { and, inArray, lt, type SQL } from 'drizzle-orm';
import type { AnyPgColumn, PgTableWithColumns } from 'drizzle-orm/pg-core';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';

// What every retention pass shares: deleting the oldest expired rows of a table in bounded
// batches (so one sweep never holds a long lock or builds a huge transaction), and a sweep that
// runs shortly after start and then on an unref'd timer, stoppable between batches.

export const RETENTION_BATCH = 5_000;
export const RETENTION_SWEEP_MS = 10 * 60_000;
export const DAY_MS = 86_400_000;

// biome-ignore lint/suspicious/noExplicitAny: any table with an `id` and a `created_at` column
export type ExpiringTable = PgTableWithColumns<any> & { id: AnyPgColumn; createdAt: AnyPgColumn };

/** Deletes one batch of the oldest rows of `table` created before `cutoff`; returns how many went. */
export async function deleteExpiredBatch(
  db: Db,
  table: ExpiringTable,
  cutoff: Date,
  batch: number,
  except?: SQL,
) {
  return (await deleteExpiredRows(db, table, cutoff, batch, { id: table.id }, except)).length;
}

/** The same, returning `columns` of the deleted rows (e.g. what else must go with them). */
export function deleteExpiredRows<C extends Record<string, AnyPgColumn>>(
  db: Db,
  table: ExpiringTable,
  cutoff: Date,
  batch: number,
  columns: C,
  except?: SQL,
) {
  const expired = db
    .select({ id: table.id })
    .from(table)
    .where(expiredWhere(table, cutoff, except))
    .orderBy(table.id)
    .limit(batch);
  return db.delete(table).where(inArray(table.id, expired)).returning(columns);
}

/** Rows of `table` created before `cutoff`, less those `except` keeps (one predicate for count and delete). */
export const expiredWhere = (table: ExpiringTable, cutoff: Date, except?: SQL) =>
  except ? and(lt(table.createdAt, cutoff), except) : lt(table.createdAt, cutoff);

/** How many rows a sweep with this cutoff would delete (dry runs). */
export const countExpired = (db: Db, table: ExpiringTable, cutoff: Date, except?: SQL) =>
  db.$count(table, expiredWhere(table, cutoff, except));

/** Batch after batch of `step` until a short batch (nothing left) or `shouldStop`; the total. */
export async function drainBatches(
  step: () => Promise<number>,
  batch: number,
  shouldStop?: () => boolean,
  onBatch?: (deleted: number) => void,
) {
  let total = 0;
  for (;;) {
    if (shouldStop?.()) return total;
    const n = await step();
    total += n;
    if (n > 0) onBatch?.(n);
    if (n < batch) return total;
  }
}

/**
 * Runs `sweep` once shortly after start (not awaited: a backlog after downtime must not delay
 * startup) and then every `intervalMs`; `stop()` tells a running sweep to end between batches.
 */
export function startSweeps(opts: {
  log: Logger;
  what: string;
  intervalMs?: number;
  sweep: (shouldStop: () => boolean) => Promise<void>;
}) {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const sweep = () => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await opts.sweep(() => stopped);
      } catch (err) {
        opts.log.error({ err }, `${opts.what} retention sweep failed`);
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
