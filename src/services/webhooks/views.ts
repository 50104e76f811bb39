import { count, desc, eq } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { users, webhookDeliveries, webhookDeliveryLogs, webhooks } from '../../db/schema';
import type { WebhookRow } from './types';

// How webhooks and their delivery logs are shown (seed 002 field names). Secrets and tokens never
// appear here: they are shown once, by create and rotate-secret. URLs and log payloads are sealed
// at rest and opened only for these views.

export const notFound = () => new AppError('NOT_FOUND', 'Webhook not found');

export function webhookView(row: WebhookRow, ownerUsername: string | null, box: SecretBox) {
  return {
    id: row.id,
    name: row.name,
    type: row.type as 'outgoing' | 'incoming',
    url: row.url === null ? null : box.decrypt(row.url),
    has_secret: row.secret !== null,
    events: row.events,
    channel_id: row.channelId,
    enabled: row.enabled,
    consecutive_failures: row.consecutiveFailures,
    /** `consecutive_failures` when the worker disabled it; null otherwise. */
    disabled_reason: row.disabledReason,
    owner_id: row.ownerId,
    owner_username: ownerUsername,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export type WebhookView = ReturnType<typeof webhookView>;

const withOwner = (db: Db) =>
  db
    .select({ w: webhooks, owner: users.username })
    .from(webhooks)
    .leftJoin(users, eq(users.id, webhooks.ownerId));

/** Every webhook (management is Admin+, and admins see all, seed 002), oldest first. */
export async function listWebhooks(deps: { db: Db; secretBox: SecretBox }) {
  const rows = await withOwner(deps.db).orderBy(webhooks.id);
  return { webhooks: rows.map((r) => webhookView(r.w, r.owner, deps.secretBox)) };
}

export async function getWebhook(deps: { db: Db; secretBox: SecretBox }, id: number) {
  const [row] = await withOwner(deps.db).where(eq(webhooks.id, id));
  if (!row) throw notFound();
  return webhookView(row.w, row.owner, deps.secretBox);
}

type Detail = { error?: string; response_body?: string };

/** The delivery log of one webhook, newest attempt first (seed 002: limit 50 by default, 100 at most). */
export async function listDeliveryLogs(
  deps: { db: Db; secretBox: SecretBox },
  id: number,
  page: { limit: number; offset: number },
) {
  const [hook] = await deps.db.select({ id: webhooks.id }).from(webhooks).where(eq(webhooks.id, id));
  if (!hook) throw notFound();
  const [total] = await deps.db
    .select({ n: count() })
    .from(webhookDeliveryLogs)
    .where(eq(webhookDeliveryLogs.webhookId, id));
  const rows = await deps.db
    .select({ log: webhookDeliveryLogs, delivery: webhookDeliveries })
    .from(webhookDeliveryLogs)
    .innerJoin(webhookDeliveries, eq(webhookDeliveries.id, webhookDeliveryLogs.deliveryId))
    .where(eq(webhookDeliveryLogs.webhookId, id))
    .orderBy(desc(webhookDeliveryLogs.id))
    .limit(page.limit)
    .offset(page.offset);
  return {
    deliveries: rows.map(({ log, delivery }) => {
      const detail = log.detail ? (JSON.parse(deps.secretBox.decrypt(log.detail)) as Detail) : {};
      return {
        id: log.id,
        delivery_id: delivery.id,
        event: delivery.event,
        event_id: delivery.eventId,
        attempt: log.attempt,
        payload: JSON.parse(deps.secretBox.decrypt(delivery.payload)) as Record<string, unknown>,
        response_status: log.responseStatus,
        response_body: detail.response_body ?? null,
        success: log.success,
        error: detail.error ?? null,
        duration_ms: log.durationMs,
        next_attempt_at: log.nextAttemptAt?.toISOString() ?? null,
        /** The delivery's state now: `pending`, `delivered` or `failed`. */
        status: delivery.status as 'pending' | 'delivered' | 'failed',
        created_at: log.createdAt.toISOString(),
      };
    }),
    total: total?.n ?? 0,
    limit: page.limit,
    offset: page.offset,
  };
}
