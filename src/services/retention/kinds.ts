import { and, eq, lt, not, sql } from 'drizzle-orm';
import type { Env } from '../../core/env';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { activityLog, auditLog, notifications, serviceChecks } from '../../db/schema';
import { baseEnvOf } from '../settings/definitions';
import { countExpired, DAY_MS, deleteExpiredBatch, drainBatches, type ExpiringTable } from './batches';
import { countExpiredMessages, type RetentionUploads, runRetention } from './chat-messages';
import { countExpiredWebhookRows, runWebhookRetention } from './webhook-logs';

// The kinds of data retention policies cover (seed 002 "Data Retention": chat messages,
// notifications, activity logs, service logs; and webhook logs, kept 7 days by the seed). Each
// counts and deletes with one predicate, so a dry run reports exactly what a run would delete.
// A new kind (or a new table of one, e.g. a separate activity table) is one entry here.

export type SweepContext = {
  db: Db;
  days: number;
  now: Date;
  cutoff: Date;
  batch: number;
  shouldStop: () => boolean;
  onBatch: (table: string, deleted: number) => void;
  log?: Logger;
  uploads?: RetentionUploads;
};

export type RetentionKind = {
  description: string;
  defaults(env: Env): { enabled: boolean; days: number };
  /** Rows a run with this cutoff would delete, per table. */
  count(db: Db, cutoff: Date): Promise<Record<string, number>>;
  /** Deletes them in bounded batches; what went, per table. */
  sweep(ctx: SweepContext): Promise<Record<string, number>>;
};

/** A table whose rows simply expire by `created_at`, less the rows `except` keeps. */
function expiringTables(tables: Record<string, { table: ExpiringTable; except?: ReturnType<typeof sql> }>) {
  return {
    async count(db: Db, cutoff: Date) {
      const counts: Record<string, number> = {};
      for (const [name, t] of Object.entries(tables))
        counts[name] = await countExpired(db, t.table, cutoff, t.except);
      return counts;
    },
    async sweep(ctx: SweepContext) {
      const deleted: Record<string, number> = {};
      for (const [name, t] of Object.entries(tables)) {
        deleted[name] = await drainBatches(
          () => deleteExpiredBatch(ctx.db, t.table, ctx.cutoff, ctx.batch, t.except),
          ctx.batch,
          ctx.shouldStop,
          (n) => ctx.onBatch(name, n),
        );
      }
      return deleted;
    },
  };
}

/**
 * Trial grants stay: "trial once" is read from the audit log (services/admin/subscriptions.ts),
 * so deleting them would hand out a second trial.
 */
const keptAuditRows = not(
  and(eq(auditLog.action, 'subscription.grant'), sql`${auditLog.details}->>'tier' = 'trial'`)!,
);

/** Notifications have a composite key (a broadcast shares one id): batches go by (user_id, id). */
const notificationRows = {
  count: (db: Db, cutoff: Date) => db.$count(notifications, lt(notifications.createdAt, cutoff)),
  async deleteBatch(db: Db, cutoff: Date, batch: number) {
    const rows = await db
      .delete(notifications)
      .where(
        sql`(${notifications.userId}, ${notifications.id}) in (select user_id, id from notifications where created_at < ${cutoff.toISOString()}::timestamptz order by created_at limit ${batch})`,
      )
      .returning({ id: notifications.id });
    return rows.length;
  },
};

/** What the older per-kind sweeps (chat, webhooks) take from a sweep. */
const passOn = (ctx: SweepContext) => ({
  db: ctx.db,
  days: ctx.days,
  now: ctx.now,
  batch: ctx.batch,
  shouldStop: ctx.shouldStop,
  onBatch: ctx.onBatch,
});

export const RETENTION_KINDS = {
  chat_messages: {
    description: 'channel and DM messages (with their reactions, polls, search tokens and images)',
    defaults: (env) => ({ enabled: true, days: baseEnvOf(env).CHAT_RETENTION_DAYS }),
    count: countExpiredMessages,
    async sweep(ctx) {
      const { byTable } = await runRetention({
        ...passOn(ctx),
        ...(ctx.log && { log: ctx.log }),
        ...(ctx.uploads && { uploads: ctx.uploads }),
      });
      return byTable;
    },
  },
  notifications: {
    description: 'notification inbox entries, read or not',
    defaults: () => ({ enabled: true, days: 90 }),
    count: async (db, cutoff) => ({ notifications: await notificationRows.count(db, cutoff) }),
    async sweep(ctx) {
      const n = await drainBatches(
        () => notificationRows.deleteBatch(ctx.db, ctx.cutoff, ctx.batch),
        ctx.batch,
        ctx.shouldStop,
        (deleted) => ctx.onBatch('notifications', deleted),
      );
      return { notifications: n };
    },
  },
  activity_logs: {
    description:
      'the activity feed and the audit log of admin and moderation actions (trial grants are kept)',
    defaults: () => ({ enabled: true, days: 365 }),
    ...expiringTables({
      activity_log: { table: activityLog },
      audit_log: { table: auditLog, except: keptAuditRows },
    }),
  },
  webhook_logs: {
    description: 'webhook delivery attempts and finished outbox rows',
    defaults: (env) => ({ enabled: true, days: baseEnvOf(env).WEBHOOK_LOG_RETENTION_DAYS }),
    count: countExpiredWebhookRows,
    async sweep(ctx) {
      const r = await runWebhookRetention(passOn(ctx));
      return { webhook_delivery_logs: r.logs, webhook_deliveries: r.deliveries };
    },
  },
  service_logs: {
    description: 'service monitor probes (service_checks)',
    defaults: () => ({ enabled: true, days: 30 }),
    ...expiringTables({ service_checks: { table: serviceChecks } }),
  },
} satisfies Record<string, RetentionKind>;

export type RetentionKindName = keyof typeof RETENTION_KINDS;
export const RETENTION_KIND_NAMES = Object.keys(RETENTION_KINDS) as RetentionKindName[];
export const isRetentionKind = (kind: string): kind is RetentionKindName =>
  Object.hasOwn(RETENTION_KINDS, kind);

export const cutoffFor = (now: Date, days: number) => new Date(now.getTime() - days * DAY_MS);
