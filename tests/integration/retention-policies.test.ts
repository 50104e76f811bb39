import { Writable } from 'node:stream';
import { asc, count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSecretBox } from '../../src/core/crypto';
import { loadEnv } from '../../src/core/env';
import { createLogger } from '../../src/core/log';
import type { Database } from '../../src/db/client';
import {
  activityLog,
  auditLog,
  channels,
  chatMessages,
  notifications,
  serviceChecks,
  services,
  webhookDeliveries,
  webhookDeliveryLogs,
  webhooks,
} from '../../src/db/schema';
import { SYSTEM_ACTOR } from '../../src/services/auth/actor';
import { acquireLease, releaseLease } from '../../src/services/jobs/lease';
import { listRetentionPolicies, setRetentionPolicy } from '../../src/services/retention/policies';
import {
  applyRetentionPolicies,
  RETENTION_LEASE,
  runRetentionNow,
  startRetentionJob,
} from '../../src/services/retention/run-policies';
import { createUser } from '../../src/services/users/accounts';
import { openTestDatabase } from '../helpers/database';

// Retention policies (seed 002 "Data Retention") on a real database, with data of known ages in
// every kind: a dry run counts exactly what the policies say and changes nothing; a run deletes
// exactly that, in batches no larger than asked, and leaves every younger row and every disabled
// kind alone; trial grants survive the audit log's policy; the cluster lease admits one run.

let database: Database;
let close: () => Promise<void>;
const env = loadEnv({});
const box = createSecretBox(Buffer.alloc(32, 9));
const DAY = 86_400_000;
// The real clock: the audit rows the policy changes write are then 0 days old.
const now = new Date();
const ago = (days: number) => new Date(now.getTime() - days * DAY);
const actor = SYSTEM_ACTOR;

beforeAll(async () => {
  ({ database, close } = await openTestDatabase());
  await seed();
});
afterAll(() => close?.());

async function seed() {
  const db = database.db;
  const alice = await createUser(db, { username: 'ret_alice' });
  const bob = await createUser(db, { username: 'ret_bob' });
  const [channel] = await db.insert(channels).values({ name: 'retention' }).returning();
  await db.insert(chatMessages).values(
    [1, 5, 8, 10, 40].map((days, i) => ({
      channelId: channel!.id,
      userId: alice.id,
      text: box.encrypt(`m${i}`),
      createdAt: ago(days),
    })),
  );
  await db.insert(notifications).values(
    [2, 20, 31, 60].map((days, i) => ({
      userId: alice.id,
      type: 'admin',
      title: `n${i}`,
      message: 'x',
      createdAt: ago(days),
    })),
  );
  // A broadcast: one id, one row per recipient.
  const [broadcast] = await db
    .insert(notifications)
    .values({ userId: alice.id, type: 'admin', title: 'all', message: 'x', createdAt: ago(45) })
    .returning();
  await db.insert(notifications).values({
    id: broadcast!.id,
    userId: bob.id,
    type: 'admin',
    title: 'all',
    message: 'x',
    createdAt: ago(45),
  });
  await db.insert(auditLog).values([
    ...[1, 50, 120, 400].map((days) => ({ actorLabel: 'system', action: 'user.warn', createdAt: ago(days) })),
    {
      actorLabel: 'system',
      action: 'subscription.grant',
      targetType: 'user',
      targetId: String(bob.id),
      details: { tier: 'trial' },
      createdAt: ago(500),
    },
  ]);
  await db.insert(activityLog).values(
    [3, 99, 101, 300].map((days) => ({
      userId: alice.id,
      action: 'login',
      details: 'Signed in',
      createdAt: ago(days),
    })),
  );
  const [hook] = await db
    .insert(webhooks)
    .values({
      ownerId: alice.id,
      name: 'old',
      type: 'outgoing',
      url: box.encrypt('https://example.com/'),
      secret: box.encrypt('s'),
      events: ['message.created'],
    })
    .returning();
  const deliveries = await db
    .insert(webhookDeliveries)
    .values(
      [1, 8, 9].map((days, i) => ({
        webhookId: hook!.id,
        eventId: `00000000-0000-4000-8000-00000000000${i}`,
        event: 'message.created',
        payload: box.encrypt('{}'),
        status: 'delivered',
        createdAt: ago(days),
      })),
    )
    .returning();
  await db.insert(webhookDeliveryLogs).values(
    deliveries.map((d) => ({
      deliveryId: d.id,
      webhookId: hook!.id,
      attempt: 1,
      success: true,
      durationMs: 3,
      createdAt: d.createdAt,
    })),
  );
  const [service] = await db
    .insert(services)
    .values({ name: 'svc', plugin: 'tcp_tunnel', host: 'h', port: 1 })
    .returning();
  await db.insert(serviceChecks).values(
    [1, 11, 12, 13, 14, 15, 20].map((days) => ({
      serviceId: service!.id,
      healthy: true,
      latencyMs: 1,
      createdAt: ago(days),
    })),
  );
}

async function snapshot() {
  const db = database.db;
  const ages = async (rows: Promise<Array<{ createdAt: Date }>>) =>
    (await rows)
      .map((r) => Math.round((now.getTime() - r.createdAt.getTime()) / DAY) || 0)
      .sort((a, b) => a - b);
  const created = { createdAt: chatMessages.createdAt };
  return {
    chat: await ages(db.select(created).from(chatMessages).orderBy(asc(chatMessages.id))),
    notifications: await ages(db.select({ createdAt: notifications.createdAt }).from(notifications)),
    audit: await ages(db.select({ createdAt: auditLog.createdAt }).from(auditLog)),
    activity: await ages(db.select({ createdAt: activityLog.createdAt }).from(activityLog)),
    webhookDeliveries: await ages(
      db.select({ createdAt: webhookDeliveries.createdAt }).from(webhookDeliveries),
    ),
    webhookLogs: await ages(
      db.select({ createdAt: webhookDeliveryLogs.createdAt }).from(webhookDeliveryLogs),
    ),
    checks: await ages(db.select({ createdAt: serviceChecks.createdAt }).from(serviceChecks)),
  };
}

function collectingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger('debug', {}, stream), lines };
}

describe('retention policies', () => {
  it('have defaults and refuse what makes no sense', async () => {
    const policies = await listRetentionPolicies({ db: database.db, env });
    expect(policies.map((p) => [p.kind, p.enabled, p.days, p.source])).toEqual([
      ['chat_messages', true, 7, 'default'],
      ['notifications', true, 90, 'default'],
      ['activity_logs', true, 365, 'default'],
      ['webhook_logs', true, 7, 'default'],
      ['service_logs', true, 30, 'default'],
    ]);
    await expect(
      setRetentionPolicy({ db: database.db, env, actor, kind: 'emails', days: 3 }),
    ).rejects.toMatchObject({
      status: 400,
      message: 'Unknown retention kind: emails',
    });
    await expect(
      setRetentionPolicy({ db: database.db, env, actor, kind: 'notifications' }),
    ).rejects.toMatchObject({
      status: 400,
      message: 'Give days, enabled or both',
    });
  });

  it('a dry run counts exactly what the policies delete and touches nothing; the run deletes exactly that, in bounded batches', async () => {
    const db = database.db;
    await setRetentionPolicy({ db, env, actor, kind: 'notifications', days: 30 });
    await setRetentionPolicy({ db, env, actor, kind: 'activity_logs', days: 100 });
    await setRetentionPolicy({ db, env, actor, kind: 'webhook_logs', enabled: false });
    await setRetentionPolicy({ db, env, actor, kind: 'service_logs', days: 10 });
    // The four audit rows written by those changes are fresh; they stay.
    const before = await snapshot();

    const { log } = collectingLogger();
    const dry = await applyRetentionPolicies({ db, env, log, now, dryRun: true });
    expect(dry.dry_run).toBe(true);
    expect(dry.policies.map((p) => [p.kind, p.rows, p.total])).toEqual([
      ['chat_messages', { chat_messages: 3, dm_messages: 0 }, 3],
      ['notifications', { notifications: 4 }, 4],
      ['activity_logs', { activity_log: 2, audit_log: 2 }, 4],
      ['webhook_logs', null, 0],
      ['service_logs', { service_checks: 6 }, 6],
    ]);
    expect(await snapshot()).toEqual(before);

    const { log: runLog, lines } = collectingLogger();
    const run = await applyRetentionPolicies({ db, env, log: runLog, now, batch: 4 });
    expect(run.policies.map((p) => [p.kind, p.total])).toEqual(dry.policies.map((p) => [p.kind, p.total]));
    expect(await snapshot()).toEqual({
      chat: [1, 5],
      notifications: [2, 20],
      // Today's four policy changes, the young entries, and the 500-day-old trial grant.
      audit: [0, 0, 0, 0, 1, 50, 500],
      // The two accounts made by the seed, and the young entries.
      activity: [0, 0, 3, 99],
      webhookDeliveries: [1, 8, 9],
      webhookLogs: [1, 8, 9],
      checks: [1],
    });
    const batches = lines.filter((l) => l.msg === 'retention batch deleted');
    expect(batches.every((b) => (b.deleted as number) <= 4)).toBe(true);
    expect(batches.filter((b) => b.table === 'service_checks').map((b) => b.deleted)).toEqual([4, 2]);
    expect(lines.filter((l) => l.msg === 'retention: expired rows deleted').map((l) => l.kind)).toEqual([
      'chat_messages',
      'notifications',
      'activity_logs',
      'service_logs',
    ]);

    // Nothing left to do; a second dry run agrees.
    const again = await applyRetentionPolicies({ db, env, log, now, dryRun: true });
    expect(again.policies.map((p) => p.total)).toEqual([0, 0, 0, 0, 0]);
  });

  it('one run at a time across the cluster: a held lease refuses a manual run', async () => {
    const db = database.db;
    expect(await acquireLease(db, RETENTION_LEASE, 60_000, 'another-node')).toBe(true);
    const { log } = collectingLogger();
    await expect(runRetentionNow({ db, env, log, actor, now })).rejects.toMatchObject({
      status: 409,
      message: 'A retention run is already in progress',
    });
    // A dry run needs no lease.
    expect((await runRetentionNow({ db, env, log, actor, now, dryRun: true })).dry_run).toBe(true);
    await releaseLease(db, RETENTION_LEASE, 'another-node');
    const done = await runRetentionNow({ db, env, log, actor, now });
    expect(done.dry_run).toBe(false);
    const [audited] = await db
      .select({ n: count() })
      .from(auditLog)
      .where(eq(auditLog.action, 'retention.run'));
    expect(audited!.n).toBe(1);
  });

  it('the scheduled job works only while it can take the lease', async () => {
    const db = database.db;
    const user = await createUser(db, { username: 'ret_job' });
    await db
      .insert(notifications)
      .values({ userId: user.id, type: 'admin', title: 'old', message: 'x', createdAt: ago(400) });
    const left = async () =>
      (await db.select({ n: count() }).from(notifications).where(eq(notifications.userId, user.id)))[0]!.n;
    expect(await acquireLease(db, RETENTION_LEASE, 60_000, 'another-node')).toBe(true);
    const held = collectingLogger();
    const blocked = startRetentionJob({ db, env, log: held.log });
    await vi.waitFor(
      () => expect(held.lines.map((l) => l.msg)).toContain('retention: another node holds the lease'),
      {
        timeout: 10_000,
      },
    );
    await blocked.stop();
    expect(await left()).toBe(1);
    await releaseLease(db, RETENTION_LEASE, 'another-node');
    const free = collectingLogger();
    const job = startRetentionJob({ db, env, log: free.log });
    await vi.waitFor(async () => expect(await left()).toBe(0), { timeout: 10_000 });
    await job.stop();
    expect(
      free.lines.some((l) => l.msg === 'retention: expired rows deleted' && l.kind === 'notifications'),
    ).toBe(true);
  });
});
