import { count, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/core/crypto';
import type { Database } from '../../src/db/client';
import { webhookDeliveries, webhookDeliveryLogs, webhooks } from '../../src/db/schema';
import { inTransaction } from '../../src/services/admin/hierarchy';
import { runWebhookRetention } from '../../src/services/retention/webhook-logs';
import { createUser } from '../../src/services/users/accounts';
import { enqueueWebhookEvent } from '../../src/services/webhooks/outbox';
import { claimDueDeliveries } from '../../src/services/webhooks/worker';
import { openTestDatabase } from '../helpers/database';

// The webhook outbox on a real database (PGlite, or PostgreSQL with TEST_DATABASE_URL): events
// commit and roll back with the caller's transaction, fan out to subscribed enabled webhooks only,
// concurrent claims never share a row, an expired lease hands a row over again, and retention
// removes exactly the logs and deliveries past their days.

let database: Database;
let close: () => Promise<void>;
const box = createSecretBox(Buffer.alloc(32, 7));
const DAY = 86_400_000;
let seq = 0;

beforeAll(async () => {
  ({ database, close } = await openTestDatabase());
});
afterAll(() => close?.());

async function hook(events: string[], opts: { enabled?: boolean; type?: 'incoming' } = {}) {
  const db = database.db;
  const owner = await createUser(db, { username: `outbox_${process.pid}_${++seq}` });
  const [row] = await db
    .insert(webhooks)
    .values(
      opts.type === 'incoming'
        ? { ownerId: owner.id, name: 'in', type: 'incoming', channelId: 1, tokenHash: `hash-${seq}` }
        : {
            ownerId: owner.id,
            name: `out ${seq}`,
            type: 'outgoing',
            url: box.encrypt('https://example.com/hook'),
            secret: box.encrypt('secret'),
            events,
            enabled: opts.enabled ?? true,
          },
    )
    .returning();
  return row!;
}

const deliveriesOf = (ids: number[]) =>
  database.db.select().from(webhookDeliveries).where(inArray(webhookDeliveries.webhookId, ids));

describe('enqueueWebhookEvent', () => {
  it('commits with the change and fans out to enabled subscribers only, under one event id', async () => {
    const a = await hook(['stream.live', 'stream.offline']);
    const b = await hook(['stream.live']);
    const off = await hook(['stream.live'], { enabled: false });
    const other = await hook(['stream.offline']);
    const incoming = await hook([], { type: 'incoming' });
    const ids = [a.id, b.id, off.id, other.id, incoming.id];
    const event = {
      event: 'stream.live' as const,
      data: { stream_id: 1, user_id: 2, username: 'streamer', title: 'Live now' },
    };

    await expect(
      inTransaction(database.db, async (tx) => {
        await enqueueWebhookEvent({ db: tx, secretBox: box }, event);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await deliveriesOf(ids)).toEqual([]);

    const { eventId } = await inTransaction(database.db, (tx) =>
      enqueueWebhookEvent({ db: tx, secretBox: box }, event),
    );
    const rows = await deliveriesOf(ids);
    expect(rows.map((r) => r.webhookId).sort()).toEqual([a.id, b.id].sort());
    expect(new Set(rows.map((r) => r.eventId))).toEqual(new Set([eventId]));
    expect(rows.every((r) => r.status === 'pending' && r.attempts === 0)).toBe(true);
    // Sealed at rest; opened it is the exact body receivers get.
    expect(rows[0]!.payload).not.toContain('streamer');
    expect(JSON.parse(box.decrypt(rows[0]!.payload))).toMatchObject({
      id: eventId,
      event: 'stream.live',
      data: event.data,
    });
  });
});

describe('claimDueDeliveries', () => {
  it('never hands one row to two claimers, and hands it over again once the lease ends', async () => {
    const target = await hook(['user.joined']);
    for (let i = 0; i < 20; i++) {
      await enqueueWebhookEvent(
        { db: database.db, secretBox: box },
        {
          event: 'user.joined',
          data: { user_id: i, username: `u${i}`, created_at: new Date().toISOString() },
        },
      );
    }
    const mine = (rows: Array<{ id: number; webhookId: number }>) =>
      rows.filter((r) => r.webhookId === target.id).map((r) => r.id);
    const [first, second] = await Promise.all([
      claimDueDeliveries(database.db, 15, 60_000),
      claimDueDeliveries(database.db, 15, 60_000),
    ]);
    const claimed = [...mine(first!), ...mine(second!)];
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.length).toBe(20);
    expect(mine(await claimDueDeliveries(database.db, 50, 60_000))).toEqual([]);

    // A node that died mid-attempt: its lease runs out and the rows are due again.
    await database.db
      .update(webhookDeliveries)
      .set({ nextAttemptAt: new Date(Date.now() - 1000) })
      .where(eq(webhookDeliveries.webhookId, target.id));
    expect(mine(await claimDueDeliveries(database.db, 50, 60_000)).sort()).toEqual(claimed.sort());
  });
});

describe('runWebhookRetention', () => {
  it('deletes exactly the logs and deliveries older than the policy, in batches', async () => {
    const target = await hook(['message.deleted']);
    const now = new Date();
    const ages = [1, 6, 8, 30, 8, 2];
    const deliveries = await database.db
      .insert(webhookDeliveries)
      .values(
        ages.map((days, i) => ({
          webhookId: target.id,
          eventId: `00000000-0000-4000-8000-00000000000${i}`,
          event: 'message.deleted',
          payload: box.encrypt('{}'),
          status: i % 2 === 0 ? 'delivered' : 'pending',
          createdAt: new Date(now.getTime() - days * DAY),
        })),
      )
      .returning({ id: webhookDeliveries.id });
    // Every delivery has one log row of its own age, and the newest one a second, fresh one.
    await database.db.insert(webhookDeliveryLogs).values([
      ...ages.map((days, i) => ({
        deliveryId: deliveries[i]!.id,
        webhookId: target.id,
        attempt: 1,
        success: true,
        durationMs: 5,
        createdAt: new Date(now.getTime() - days * DAY),
      })),
      { deliveryId: deliveries[0]!.id, webhookId: target.id, attempt: 2, success: true, durationMs: 5 },
    ]);
    const left = async () => {
      const [d] = await database.db
        .select({ n: count() })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.webhookId, target.id));
      const [l] = await database.db
        .select({ n: count() })
        .from(webhookDeliveryLogs)
        .where(eq(webhookDeliveryLogs.webhookId, target.id));
      return { deliveries: d!.n, logs: l!.n };
    };

    const result = await runWebhookRetention({ db: database.db, days: 7, now, batch: 2 });
    expect(result).toEqual({ logs: 3, deliveries: 3 });
    expect(await left()).toEqual({ deliveries: 3, logs: 4 });
    const kept = await database.db
      .select({ createdAt: webhookDeliveries.createdAt })
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.webhookId, target.id));
    expect(kept.every((k) => now.getTime() - k.createdAt.getTime() <= 7 * DAY)).toBe(true);
    expect(await runWebhookRetention({ db: database.db, days: 7, now })).toEqual({ logs: 0, deliveries: 0 });
    const [orphans] = await database.query<{ n: number }>(
      sql`select count(*)::int as n from webhook_delivery_logs l left join webhook_deliveries d on d.id = l.delivery_id where d.id is null`,
    );
    expect(orphans?.n).toBe(0);
  });
});
