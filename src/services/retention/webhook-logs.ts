import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { webhookDeliveries, webhookDeliveryLogs } from '../../db/schema';
import { DAY_MS, deleteExpiredBatch, drainBatches, RETENTION_BATCH, startSweeps } from './batches';

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
}): Promise<WebhookRetentionResult> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.days * DAY_MS);
  const batch = opts.batch ?? RETENTION_BATCH;
  const sweep = (table: typeof webhookDeliveryLogs | typeof webhookDeliveries) =>
    drainBatches(() => deleteExpiredBatch(opts.db, table, cutoff, batch), batch, opts.shouldStop);
  return { logs: await sweep(webhookDeliveryLogs), deliveries: await sweep(webhookDeliveries) };
}

export function startWebhookRetention(opts: { db: Db; log: Logger; days: number; intervalMs?: number }) {
  return startSweeps({
    log: opts.log,
    what: 'webhook',
    ...(opts.intervalMs !== undefined && { intervalMs: opts.intervalMs }),
    sweep: async (shouldStop) => {
      const result = await runWebhookRetention({ ...opts, shouldStop });
      if (result.logs + result.deliveries > 0)
        opts.log.info({ ...result, retention_days: opts.days }, 'expired webhook logs deleted');
    },
  });
}
