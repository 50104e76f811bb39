import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import { eventBody, type WebhookEvent } from './events';

// The one way features raise webhook events. Call it with the transaction of the change that
// caused the event: the outbox rows then commit (or roll back) with that change, so a crash
// between the change and its delivery loses nothing, and a rolled-back change sends nothing.
// The worker (worker.ts) delivers the rows later, on whichever node claims them.

export type OutboxDeps = {
  /** The caller's transaction (or the database, for events that are not part of a change). */
  db: Db;
  secretBox: SecretBox;
};

/**
 * Fans `event` out to every enabled outgoing webhook subscribed to it: one delivery row per
 * webhook, all with one event id (receivers deduplicate on it), in one INSERT … SELECT. With
 * `webhookId`, only that webhook gets it, subscribed or not (the `webhook.test` event).
 */
export async function enqueueWebhookEvent(
  deps: OutboxDeps,
  event: WebhookEvent,
  opts: { webhookId?: number } = {},
): Promise<{ eventId: string }> {
  const eventId = randomUUID();
  // Sealed once: the body holds message text and names, which never rest in the clear.
  const payload = deps.secretBox.encrypt(eventBody(eventId, event));
  const target =
    opts.webhookId === undefined
      ? sql`w.enabled and ${event.event}::text = any(w.events)`
      : sql`w.id = ${opts.webhookId}::int`;
  await deps.db.execute(sql`insert into webhook_deliveries (webhook_id, event_id, event, payload)
    select w.id, ${eventId}::uuid, ${event.event}::text, ${payload}::text
    from webhooks w where w.type = 'outgoing' and ${target}`);
  return { eventId };
}
