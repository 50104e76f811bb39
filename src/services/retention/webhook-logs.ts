import type { Db } from '../../db/client';
import { webhookDeliveries, webhookDeliveryLogs } from '../../db/schema';
import { countExpired, DAY_MS, deleteExpiredBatch, drainBatches, RETENTION_BATCH } from './batches';

// Webhook retention (seed 002: delivery logs "auto-cleaned after 7 days"): attempt logs older than
// WEBHOOK_LOG_RETENTION_DAYS, and outbox rows created before then with their sealed payloads —
// finished ones, and pending ones of webhooks that stayed disabled that long (stale by now). An
// attempt still in flight on a deleted row records nothing: its update finds no row.

export type WebhookRetentionResult = { logs: number; deliveries: number };

/** One full sweep, batch after batch; tests call it with their own `now` and a small `batch`. */
export async function runWebhookRetention(opts: {
  db: Db;
  days: number;
  now?: Date;
  batch?: number;
  shouldStop?: () => boolean;
  onBatch?: (table: string, deleted: number) => void;
}): Promise<WebhookRetentionResult> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.days * DAY_MS);
  const batch = opts.batch ?? RETENTION_BATCH;
  const sweep = (table: typeof webhookDeliveryLogs | typeof webhookDeliveries, name: string) =>
    drainBatches(
      () => deleteExpiredBatch(opts.db, table, cutoff, batch),
      batch,
      opts.shouldStop,
      (n) => opts.onBatch?.(name, n),
    );
  return {
    logs: await sweep(webhookDeliveryLogs, 'webhook_delivery_logs'),
    deliveries: await sweep(webhookDeliveries, 'webhook_deliveries'),
  };
}

/** What `runWebhookRetention` with the same cutoff would delete (dry runs). */
export async function countExpiredWebhookRows(db: Db, cutoff: Date) {
  return {
    webhook_delivery_logs: await countExpired(db, webhookDeliveryLogs, cutoff),
    webhook_deliveries: await countExpired(db, webhookDeliveries, cutoff),
  };
}
