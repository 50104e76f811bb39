import type { SecretBox } from '../../core/crypto';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { chatMessages, dmMessages } from '../../db/schema';
import { imageUrlOf, releaseUploads, sweepOrphanUploads, type UploadDeps } from '../uploads/references';
import { countExpired, DAY_MS, deleteExpiredRows, drainBatches, RETENTION_BATCH } from './batches';

// Message retention (API.md §8): channel and DM messages older than CHAT_RETENTION_DAYS are deleted, and
// with each row its sealed text, its blind-index tokens and (by cascade) its reactions, poll and
// votes; an uploaded image goes with the last message showing it, and each sweep also removes
// uploads no message references after their grace period (services/uploads/references.ts). Deletes
// go in bounded batches so one sweep never holds a long lock or builds a huge transaction, and chat
// keeps flowing between batches.

// Every message table under retention.
const TABLES = { chat_messages: chatMessages, dm_messages: dmMessages } as const;

/** What deleting uploads needs; without it retention leaves files alone (tests of rows only). */
export type RetentionUploads = Omit<UploadDeps, 'db'> & { secretBox: SecretBox };

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
  onBatch?: (table: string, deleted: number) => void;
}): Promise<RetentionResult> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.days * DAY_MS);
  const batch = opts.batch ?? RETENTION_BATCH;
  const byTable: Record<string, number> = {};
  let deleted = 0;
  for (const [name, table] of Object.entries(TABLES)) {
    const count = await drainBatches(
      async () => {
        const rows = await deleteExpiredRows(opts.db, table, cutoff, batch, {
          id: table.id,
          attachments: table.attachments,
        });
        if (opts.uploads) await releaseRows(opts.db, opts.uploads, rows);
        return rows.length;
      },
      batch,
      opts.shouldStop,
      (n) => opts.onBatch?.(name, n),
    );
    byTable[name] = count;
    deleted += count;
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

/** What `runRetention` with the same cutoff would delete, per table (dry runs). */
export async function countExpiredMessages(db: Db, cutoff: Date): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [name, table] of Object.entries(TABLES)) counts[name] = await countExpired(db, table, cutoff);
  return counts;
}
