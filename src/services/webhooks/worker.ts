import { and, eq, inArray, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { webhookDeliveries, webhooks } from '../../db/schema';
import { type AttemptContext, attemptDelivery, type ClaimedDelivery } from './delivery';
import { extraCa } from './http-post';
import { targetGuardOf } from './target-guard';
import type { WebhookDeps } from './types';

// The delivery worker, one per node. Nodes share the outbox: each claims a batch of due rows with
// `FOR UPDATE SKIP LOCKED` (so no two nodes take the same row) and pushes their `next_attempt_at`
// a lease ahead, which commits the claim. A node that dies mid-delivery leaves the row to be
// claimed again once the lease ends: delivery is at least once, and the event id lets receivers
// drop the duplicate.

/** Deliveries one node works on at once. */
export const WORKER_BATCH = 10;

/** How long a claim holds beyond the request timeout before another node may take the row. */
const LEASE_MARGIN_MS = 60_000;

export async function claimDueDeliveries(db: Db, batch: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  // The database's clock, the one that stamped the rows: a node's clock (and its millisecond
  // precision against the column's microseconds) would leave a row enqueued this instant unclaimed.
  const now = sql`now()`;
  const due = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .where(
      and(
        eq(webhookDeliveries.status, 'pending'),
        lte(webhookDeliveries.nextAttemptAt, now),
        eq(webhooks.enabled, true),
      ),
    )
    .orderBy(webhookDeliveries.nextAttemptAt)
    .limit(batch)
    .for('update', { of: webhookDeliveries, skipLocked: true });
  return db
    .update(webhookDeliveries)
    .set({ nextAttemptAt: sql`now() + ${leaseMs} * interval '1 millisecond'` })
    .where(inArray(webhookDeliveries.id, due))
    .returning({
      id: webhookDeliveries.id,
      webhookId: webhookDeliveries.webhookId,
      eventId: webhookDeliveries.eventId,
      event: webhookDeliveries.event,
      payload: webhookDeliveries.payload,
      attempts: webhookDeliveries.attempts,
    });
}

export type WebhookWorkerOptions = WebhookDeps & {
  env: WebhookDeps['env'] & { WEBHOOK_DELIVERY_ENABLED: boolean; WEBHOOK_POLL_INTERVAL_MS: number };
};

/**
 * Polls every WEBHOOK_POLL_INTERVAL_MS (at once again while full batches keep coming) until
 * `stop()`, which waits for the attempts in flight (each bounded by WEBHOOK_TIMEOUT_SECONDS).
 */
export function startWebhookWorker(opts: WebhookWorkerOptions) {
  const { env, log } = opts;
  if (!env.WEBHOOK_DELIVERY_ENABLED) {
    log.info({}, 'webhook delivery is off on this node (WEBHOOK_DELIVERY_ENABLED=false)');
    return { stop: async () => {} };
  }
  if (env.WEBHOOK_TEST_ALLOW_LOOPBACK || env.WEBHOOK_TEST_CA_FILE || env.WEBHOOK_TEST_HOSTS_FILE) {
    log.warn({}, 'webhook test settings are active (WEBHOOK_TEST_*): never use them in production');
  }
  const ctx: AttemptContext = { ...opts, guard: targetGuardOf(env), ca: extraCa(env.WEBHOOK_TEST_CA_FILE) };
  const leaseMs = env.WEBHOOK_TIMEOUT_SECONDS * 1000 + LEASE_MARGIN_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const tick = async () => {
    try {
      for (;;) {
        if (stopped) return;
        const claimed = await claimDueDeliveries(opts.db, WORKER_BATCH, leaseMs);
        await Promise.all(
          claimed.map((row) =>
            attemptDelivery(ctx, row).catch((err: unknown) =>
              log.error({ err, delivery_id: row.id }, 'webhook delivery could not be recorded'),
            ),
          ),
        );
        if (claimed.length < WORKER_BATCH) return;
      }
    } catch (err) {
      log.error({ err }, 'webhook worker tick failed');
    }
  };

  let running: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, env.WEBHOOK_POLL_INTERVAL_MS);
    timer.unref();
  };
  running = tick().finally(schedule);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
