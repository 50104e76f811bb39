import { createHmac } from 'node:crypto';
import { and, eq, gt, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { webhookDeliveries, webhookDeliveryLogs, webhooks } from '../../db/schema';
import { inTransaction } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { type PreparedNotification, prepareNotification } from '../notifications/notify';
import { type PostResult, postSigned } from './http-post';
import type { TargetGuard } from './target-guard';
import type { WebhookDeps, WebhookRow } from './types';

// One attempt at one claimed delivery: the per-webhook rate limit, the SSRF check of the URL as
// it resolves now, the signed POST, and then — in one transaction — the attempt's log row, the
// delivery's next state (delivered, retry later, or given up) and the webhook's failure streak,
// which disables it (and tells its owner) once it reaches WEBHOOK_DISABLE_AFTER_FAILURES.

export const SIGNATURE_HEADER = 'X-Portal-Signature';
export const USER_AGENT = 'Portal-Webhooks/1.0';

/** `sha256=<hex HMAC-SHA256(secret, body)>` (seed 002). */
export const signatureOf = (secret: string, body: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * Exponential backoff with jitter: base·2^(attempt−1), stretched by up to 20 % at random, capped.
 * The jitter spreads retries of many failing deliveries apart; because it stays under 100 %, the
 * delay still grows from one attempt to the next until the cap.
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random = Math.random()) {
  const exponential = baseMs * 2 ** Math.min(attempt - 1, 40);
  return Math.round(Math.min(maxMs, exponential * (1 + 0.2 * random)));
}

export type ClaimedDelivery = {
  id: number;
  webhookId: number;
  eventId: string;
  event: string;
  payload: string;
  attempts: number;
};

export type AttemptContext = WebhookDeps & { guard: TargetGuard; ca: Buffer | undefined };

type Outcome = PostResult & { durationMs: number };

async function send(ctx: AttemptContext, hook: WebhookRow, row: ClaimedDelivery, attempt: number) {
  const started = performance.now();
  const body = ctx.secretBox.decrypt(row.payload);
  const timeoutMs = ctx.env.WEBHOOK_TIMEOUT_SECONDS * 1000;
  let result: PostResult;
  try {
    // Checked again at every attempt: the name may resolve somewhere private by now.
    const target = await ctx.guard.check(ctx.secretBox.decrypt(hook.url ?? ''));
    result = await postSigned(
      target,
      body,
      {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-portal-event': row.event,
        'x-portal-event-id': row.eventId,
        'x-portal-delivery': String(row.id),
        'x-portal-attempt': String(attempt),
        [SIGNATURE_HEADER.toLowerCase()]: signatureOf(ctx.secretBox.decrypt(hook.secret ?? ''), body),
      },
      { timeoutMs, ca: ctx.ca },
    );
  } catch (err) {
    if (!(err instanceof AppError)) ctx.log.warn({ err, delivery_id: row.id }, 'webhook attempt failed');
    const error = err instanceof AppError ? `Refused: ${err.message}` : 'Delivery failed';
    result = { ok: false, status: null, body: '', error };
  }
  return { ...result, durationMs: Math.round(performance.now() - started) } satisfies Outcome;
}

/** Whether the per-webhook delivery rate allows one more now; else when to try again. */
async function rateAllows(ctx: AttemptContext, webhookId: number): Promise<true | Date> {
  try {
    const r = await ctx.rateLimiter.checkCustom(
      'webhook',
      String(webhookId),
      ctx.env.WEBHOOK_RATE_DELIVERIES,
      ctx.env.WEBHOOK_RATE_WINDOW_SECONDS * 1000,
    );
    return r.allowed ? true : new Date(r.resetAt);
  } catch (err) {
    // As for the request tiers: an unreachable counter store delivers rather than stalls.
    ctx.log.warn({ err }, 'webhook rate limiter unavailable');
    return true;
  }
}

/** Attempts one claimed delivery and records what happened. */
export async function attemptDelivery(ctx: AttemptContext, row: ClaimedDelivery): Promise<void> {
  const [hook] = await ctx.db.select().from(webhooks).where(eq(webhooks.id, row.webhookId));
  // Deleted: the row went with it. Disabled since the claim: it waits, unclaimed, until enabled.
  if (!hook) return;
  const allowed = hook.enabled ? await rateAllows(ctx, hook.id) : new Date();
  if (allowed !== true) {
    // Over the rate (or disabled): wait for the next window; no attempt is spent.
    await ctx.db
      .update(webhookDeliveries)
      .set({ nextAttemptAt: allowed })
      .where(eq(webhookDeliveries.id, row.id));
    return;
  }
  const attempt = row.attempts + 1;
  const outcome = await send(ctx, hook, row, attempt);
  const prepared = await record(ctx, hook, row, attempt, outcome);
  await prepared?.publish(ctx);
}

async function record(
  ctx: AttemptContext,
  hook: WebhookRow,
  row: ClaimedDelivery,
  attempt: number,
  outcome: Outcome,
): Promise<PreparedNotification | undefined> {
  const now = new Date();
  const givenUp = !outcome.ok && attempt >= ctx.env.WEBHOOK_MAX_ATTEMPTS;
  const next = outcome.ok || givenUp ? null : new Date(now.getTime() + retryDelay(ctx, attempt));
  return inTransaction(ctx.db, async (tx) => {
    const [updated] = await tx
      .update(webhookDeliveries)
      .set({
        attempts: attempt,
        status: outcome.ok ? 'delivered' : givenUp ? 'failed' : 'pending',
        nextAttemptAt: next ?? now,
        finishedAt: next ? null : now,
      })
      .where(eq(webhookDeliveries.id, row.id))
      .returning({ id: webhookDeliveries.id });
    if (!updated) return undefined; // the webhook was deleted meanwhile
    await tx.insert(webhookDeliveryLogs).values({
      deliveryId: row.id,
      webhookId: hook.id,
      attempt,
      responseStatus: outcome.status,
      success: outcome.ok,
      durationMs: outcome.durationMs,
      detail: ctx.secretBox.encrypt(
        JSON.stringify({ ...(!outcome.ok && { error: outcome.error }), response_body: outcome.body }),
      ),
      nextAttemptAt: next,
    });
    if (outcome.ok) {
      await tx
        .update(webhooks)
        .set({ consecutiveFailures: 0 })
        .where(and(eq(webhooks.id, hook.id), gt(webhooks.consecutiveFailures, 0)));
      return undefined;
    }
    return countFailure(ctx, tx, hook);
  });
}

const retryDelay = (ctx: AttemptContext, attempt: number) =>
  retryDelayMs(attempt, ctx.env.WEBHOOK_RETRY_BASE_MS, ctx.env.WEBHOOK_RETRY_MAX_MS);

/** One more failure in a row; at the threshold the webhook is disabled, once, and its owner told. */
async function countFailure(ctx: AttemptContext, tx: AttemptContext['db'], hook: WebhookRow) {
  const threshold = ctx.env.WEBHOOK_DISABLE_AFTER_FAILURES;
  const [counted] = await tx
    .update(webhooks)
    .set({ consecutiveFailures: sql`${webhooks.consecutiveFailures} + 1` })
    .where(eq(webhooks.id, hook.id))
    .returning({ failures: webhooks.consecutiveFailures });
  if (!counted || counted.failures < threshold) return undefined;
  // Conditional, so of two nodes failing at once only one disables and notifies.
  const [disabled] = await tx
    .update(webhooks)
    .set({ enabled: false, disabledReason: 'consecutive_failures', updatedAt: new Date() })
    .where(and(eq(webhooks.id, hook.id), eq(webhooks.enabled, true)))
    .returning({ id: webhooks.id });
  if (!disabled) return undefined;
  await writeAudit(tx, {
    actor: { userId: null, label: 'system' },
    action: 'webhook.auto_disable',
    targetType: 'webhook',
    targetId: hook.id,
    details: { name: hook.name, consecutive_failures: counted.failures },
  });
  ctx.log.warn({ webhook_id: hook.id, failures: counted.failures }, 'webhook disabled after failures');
  return prepareNotification(tx, {
    userIds: [hook.ownerId],
    type: 'admin',
    title: 'Webhook disabled',
    message: `Your webhook "${hook.name}" was disabled after ${counted.failures} failed deliveries in a row. Fix the receiver, then enable the webhook again; waiting deliveries resume then.`,
    data: { webhook_id: hook.id, consecutive_failures: counted.failures },
  });
}
