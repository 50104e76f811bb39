import { inArray, lt } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { chatMessages, dmMessages } from '../../db/schema';
import { imageUrlOf, releaseUploads, sweepOrphanUploads, type UploadDeps } from '../uploads/references';

// Message retention (API.md §8): channel and DM messages older than CHAT_RETENTION_DAYS are deleted, and
// with each row its sealed text, its blind-index tokens and (by cascade) its reactions, poll and
// votes; an uploaded image goes with the last message showing it, and each sweep also removes
// uploads no message references after their grace period (services/uploads/references.ts). Deletes
// go in bounded batches so one sweep never holds a long lock or builds a huge transaction, and chat
// keeps flowing between batches.

export const RETENTION_BATCH = 5_000;
export const RETENTION_SWEEP_MS = 10 * 60_000;
const DAY_MS = 86_400_000;

type MessageTable = typeof chatMessages | typeof dmMessages;

/** Deletes one batch of the oldest expired rows of `table`; returns them (sealed attachments). */
const deleteBatch = (table: MessageTable) => async (db: Db, cutoff: Date, batch: number) => {
  const expired = db
    .select({ id: table.id })
    .from(table)
    .where(lt(table.createdAt, cutoff))
    .orderBy(table.id)
    .limit(batch);
  return db
    .delete(table)
    .where(inArray(table.id, expired))
    .returning({ id: table.id, attachments: table.attachments });
};

/** What deleting uploads needs; without it retention leaves files alone (tests of rows only). */
export type RetentionUploads = Omit<UploadDeps, 'db'> & { secretBox: SecretBox };

// Every message table under retention.
const TABLES = { chat_messages: deleteBatch(chatMessages), dm_messages: deleteBatch(dmMessages) } as const;

export type RetentionResult = { deleted: number; byTable: Record<string, number>; uploads?: number };

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
  uploads?: RetentionUploads;
}): Promise<RetentionResult> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.days * DAY_MS);
  const batch = opts.batch ?? RETENTION_BATCH;
  const byTable: Record<string, number> = {};
  let deleted = 0;
  for (const [table, deleteBatch] of Object.entries(TABLES)) {
    byTable[table] = 0;
    for (;;) {
      if (opts.shouldStop?.()) break;
      const rows = await deleteBatch(opts.db, cutoff, batch);
      const count = rows.length;
      if (opts.uploads) await releaseRows(opts.db, opts.uploads, rows);
      byTable[table] += count;
      deleted += count;
      if (count > 0) opts.log?.debug({ table, count }, 'retention batch deleted');
      if (count < batch) break;
    }
  }
  if (!opts.uploads) return { deleted, byTable };
  const uploads = await sweepOrphanUploads({ ...opts.uploads, db: opts.db }, { now: opts.now });
  return { deleted, byTable, uploads };
}

async function releaseRows(db: Db, uploads: RetentionUploads, rows: Array<{ attachments: string | null }>) {
  const urls = rows.flatMap((r) => {
    try {
      return [imageUrlOf(uploads.secretBox, r.attachments)];
    } catch {
      return []; // sealed under a key no longer configured: the orphan sweep takes the file
    }
  });
  await releaseUploads({ ...uploads, db }, urls);
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
  uploads?: RetentionUploads;
}) {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const sweep = () => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        const result = await runRetention({ ...opts, shouldStop: () => stopped });
        if (result.deleted > 0 || (result.uploads ?? 0) > 0)
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
