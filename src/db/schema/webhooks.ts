import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  pgTable,
  serial,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { channels } from './chat';
import { ts } from './columns';
import { users } from './users';

// Webhooks of seed 002 (API.md §8). Delivery URLs, signing secrets and payloads are sealed with the
// SecretBox; an incoming webhook's token is kept as its SHA-256 only (it is shown once).

export const webhooks = pgTable(
  'webhooks',
  {
    id: serial('id').primaryKey(),
    ownerId: integer('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** `outgoing` (we POST events to `url`) or `incoming` (others POST messages into `channel_id`). */
    type: text('type').notNull(),
    /** Sealed delivery URL (outgoing). */
    url: text('url'),
    /** Sealed HMAC-SHA256 signing secret (outgoing). */
    secret: text('secret'),
    events: text('events').array().notNull().default(sql`'{}'::text[]`),
    /** Target channel (incoming); the webhook goes with its channel. */
    channelId: integer('channel_id').references(() => channels.id, { onDelete: 'cascade' }),
    /** SHA-256 (hex) of the incoming token. */
    tokenHash: text('token_hash'),
    enabled: boolean('enabled').notNull().default(true),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    /** Why the worker disabled it (null when enabled, or disabled by hand). */
    disabledReason: text('disabled_reason'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('webhooks_owner_idx').on(t.ownerId),
    uniqueIndex('webhooks_token_idx').on(t.tokenHash),
    index('webhooks_channel_idx').on(t.channelId),
    check('webhooks_type', sql`${t.type} in ('outgoing', 'incoming')`),
    check('webhooks_name_len', sql`char_length(${t.name}) between 1 and 100`),
    check(
      'webhooks_shape',
      sql`(${t.type} = 'outgoing' and ${t.url} is not null and ${t.secret} is not null)
        or (${t.type} = 'incoming' and ${t.channelId} is not null and ${t.tokenHash} is not null)`,
    ),
  ],
);

/**
 * The outbox: one row per (event, outgoing webhook), inserted in the transaction of the change
 * that caused the event, so a crash can never lose one. The worker claims due rows with
 * `FOR UPDATE SKIP LOCKED`; `next_attempt_at` is both the retry time and the claim's lease.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    webhookId: integer('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    /** Same for every webhook that receives one event: receivers deduplicate on it. */
    eventId: uuid('event_id').notNull(),
    event: text('event').notNull(),
    /** The sealed JSON body, signed and sent as is on every attempt. */
    payload: text('payload').notNull(),
    /** `pending`, `delivered`, or `failed` (attempts used up). */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_idx').on(t.webhookId, t.eventId),
    // The worker's claim: due pending rows, oldest due first.
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_created_idx').on(t.createdAt),
    check('webhook_deliveries_status', sql`${t.status} in ('pending', 'delivered', 'failed')`),
  ],
);

/** One row per delivery attempt (seed 002 "delivery logs"); kept WEBHOOK_LOG_RETENTION_DAYS. */
export const webhookDeliveryLogs = pgTable(
  'webhook_delivery_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deliveryId: bigint('delivery_id', { mode: 'number' })
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    webhookId: integer('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    /** The receiver's HTTP status; null when no response came (refused address, timeout, TLS). */
    responseStatus: integer('response_status'),
    success: boolean('success').notNull(),
    durationMs: integer('duration_ms').notNull(),
    /** Sealed JSON `{error?, response_body?}`. */
    detail: text('detail'),
    /** When the next attempt was scheduled after this one (null: delivered or given up). */
    nextAttemptAt: ts('next_attempt_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('webhook_delivery_logs_webhook_idx').on(t.webhookId, t.id),
    index('webhook_delivery_logs_created_idx').on(t.createdAt),
    index('webhook_delivery_logs_delivery_idx').on(t.deliveryId),
  ],
);
