import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Bus } from '../../core/bus/types';
import type { Db } from '../../db/client';
import {
  NOTIFICATION_TYPES,
  NOTIFY_TOPIC,
  type NotificationView,
  type NotifyBusMessage,
  notificationView,
  ZNotificationLink,
  ZNotificationMessage,
  ZNotificationTitle,
} from './types';

// The one way any feature creates notifications (API.md §4): rows first, then one Bus message that
// every node's /ws/portal hub turns into a `notification` frame for the sockets it holds.

export type NotifyLog = { warn(obj: object, msg?: string): void };

/** Where pushes go and where a failed push is reported (AppDeps and request contexts fit). */
export type PushDeps = { bus: Bus; log: NotifyLog };

export type NotifyDeps = { db: Db } & PushDeps;

export const ZNotifyInput = z.object({
  userIds: z.union([z.literal('all'), z.array(z.number().int().positive())]),
  type: z.enum(NOTIFICATION_TYPES),
  title: ZNotificationTitle,
  message: ZNotificationMessage,
  link: ZNotificationLink.nullish(),
  data: z.record(z.string(), z.unknown()).nullish(),
});

export type NotifyInput = z.input<typeof ZNotifyInput>;

/** Rows written, not yet announced: `publish` after the caller's transaction has committed. */
export type PreparedNotification = {
  /** Rows inserted (recipients that exist). */
  count: number;
  notification: NotificationView;
  /**
   * Pushes to open sockets on every node. Never throws: the rows are the record and clients
   * also poll, so a Bus outage costs the live push only (and is logged).
   */
  publish(deps: PushDeps): Promise<void>;
};

async function pushAll(deps: PushDeps, messages: NotifyBusMessage[]): Promise<void> {
  for (const message of messages) {
    try {
      await deps.bus.publish(NOTIFY_TOPIC, message);
    } catch (err) {
      deps.log.warn({ err, notification_id: message.notification.id }, 'notification stored but not pushed');
    }
  }
}

/**
 * Rows per statement of a broadcast: each batch is one INSERT … SELECT from `users` in id order.
 * Between batches other queries get their turn (the embedded database runs one statement at a time
 * in this process); a 100k-user broadcast is ten statements, measured within 10–30 % of a single
 * INSERT … SELECT (bench/notify-broadcast.bench.ts).
 */
export const BROADCAST_BATCH = 10_000;

/** Targeted recipients per statement and per Bus message. */
const TARGET_CHUNK = 5_000;

/** `execute` answers an array on postgres.js and `{ rows }` on PGlite (also inside transactions). */
const rowsOf = <T>(result: unknown): T[] =>
  Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);

async function run<T>(db: Db, statement: SQL): Promise<T[]> {
  return rowsOf<T>(await db.execute(statement));
}

/** One id per notification event, shared by every recipient's row. */
async function nextEventId(db: Db): Promise<number> {
  const [row] = await run<{ id: number }>(db, sql`select nextval('notifications_id_seq')::int as id`);
  return Number(row!.id);
}

/**
 * Inserts the rows of one notification event on `db` (a transaction works: nothing is published
 * here). Targeted: only users that exist get a row. `'all'`: batched INSERT … SELECT over users.
 */
export async function prepareNotification(db: Db, input: NotifyInput): Promise<PreparedNotification> {
  const parsed = ZNotifyInput.parse(input);
  const id = await nextEventId(db);
  const createdAt = new Date();
  const notification = notificationView({
    id,
    type: parsed.type,
    title: parsed.title,
    message: parsed.message,
    link: parsed.link ?? null,
    data: parsed.data ?? null,
    readAt: null,
    createdAt,
  });
  const values = sql`${id}::int, u.id, ${parsed.type}::text, ${parsed.title}::text, ${parsed.message}::text,
    ${notification.link}::text, ${notification.data === null ? null : JSON.stringify(notification.data)}::jsonb,
    ${createdAt.toISOString()}::timestamptz`;
  const insertSelect = (from: SQL) => sql`insert into notifications
    (id, user_id, type, title, message, link, data, created_at)
    select ${values} from users u ${from}`;

  if (parsed.userIds === 'all') {
    let count = 0;
    let after = 0;
    for (;;) {
      const [batch] = await run<{ n: number; last: number }>(
        db,
        sql`with ins as (${insertSelect(sql`where u.id > ${after}::int order by u.id limit ${BROADCAST_BATCH}::int`)}
          returning user_id)
        select count(*)::int as n, coalesce(max(user_id), 0)::int as last from ins`,
      );
      const n = Number(batch?.n ?? 0);
      count += n;
      if (n < BROADCAST_BATCH) break;
      after = Number(batch!.last);
    }
    return { count, notification, publish: (deps) => pushAll(deps, [{ kind: 'all', notification }]) };
  }

  const wanted = [...new Set(parsed.userIds)];
  const delivered: number[][] = [];
  for (let i = 0; i < wanted.length; i += TARGET_CHUNK) {
    // Ids are validated integers: the array literal travels as one bound parameter.
    const ids = `{${wanted.slice(i, i + TARGET_CHUNK).join(',')}}`;
    const rows = await run<{ user_id: number }>(
      db,
      sql`${insertSelect(sql`where u.id = any(${ids}::int[])`)} returning user_id`,
    );
    if (rows.length) delivered.push(rows.map((r) => Number(r.user_id)));
  }
  return {
    count: delivered.reduce((n, chunk) => n + chunk.length, 0),
    notification,
    publish: (deps) =>
      pushAll(
        deps,
        delivered.map((userIds) => ({ kind: 'users', user_ids: userIds, notification })),
      ),
  };
}

/**
 * Creates a notification for `userIds` (or `'all'` users) and pushes it to their open /ws/portal
 * sockets on every node. Returns how many rows were written and the event id they share.
 */
export async function notify(deps: NotifyDeps, input: NotifyInput): Promise<{ count: number; id: number }> {
  const prepared = await prepareNotification(deps.db, input);
  await prepared.publish(deps);
  return { count: prepared.count, id: prepared.notification.id };
}
