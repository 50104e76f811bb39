import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../../src/core/errors';
import type { Db } from '../../src/db/client';
import { auditLog, punishments, sessions, users } from '../../src/db/schema';
import { createCaller } from '../../src/routers/_app';
import { createContextInner } from '../../src/routers/context';
import { downgradeExpiredSubscriptions } from '../../src/services/admin/subscriptions';
import { type Actor, SYSTEM_ACTOR } from '../../src/services/auth/actor';
import { inviteCodeFor } from '../../src/services/auth/invite-code';
import { toUserActor } from '../../src/services/auth/resolve';
import { createSession } from '../../src/services/auth/sessions';
import { createUser, findUserById } from '../../src/services/users/accounts';
import { LEVEL, STATE, TIER } from '../../src/services/users/policy';
import { uniqueName } from '../helpers/identity';
import { startTestServer, type TestServer } from '../helpers/server';

// The admin router on a real database, called the way the CLI calls it (createCaller, transport
// 'cli'), with the system owner and with Owner/Admin users: hierarchy, subscriptions, moderation,
// and the audit row every action leaves.

let server: TestServer;
let db: Db;

beforeAll(async () => {
  server = await startTestServer();
  db = server.deps.database.db;
});
afterAll(async () => {
  await server?.close();
});

const adminAs = (actor: Actor) =>
  createCaller(
    createContextInner({
      deps: server.deps,
      transport: 'cli',
      ip: 'cli',
      auth: { actor, rateSubject: 'cli' },
    }),
  ).admin;

/** Accounts without passwords: no scrypt cost, the admin paths do not need one. */
const newUser = (level: number = LEVEL.USER) => createUser(db, { username: uniqueName('adm'), level });

async function actorAt(level: number) {
  const user = await newUser(level);
  return { user, actor: toUserActor(user, 'cli') };
}

const system = () => adminAs(SYSTEM_ACTOR);

/** The contract error body of a refused call (what the CLI prints with --json). */
async function refusal(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    return describeError(err).body;
  }
  throw new Error('expected the call to be refused');
}

async function lastAudit(targetId: number | string, action: string) {
  const [row] = await db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.targetId, String(targetId)), eq(auditLog.action, action)))
    .orderBy(auditLog.id);
  return row;
}

const DAY = 24 * 60 * 60 * 1000;
const expectNear = (actual: string | null | undefined, expectedMs: number, toleranceMs = 60_000) => {
  expect(actual).toBeTypeOf('string');
  expect(Math.abs(new Date(actual!).getTime() - expectedMs)).toBeLessThan(toleranceMs);
};

describe('hierarchy (seed 003)', () => {
  it('an Admin cannot act on an Owner or another Admin', async () => {
    const { actor } = await actorAt(LEVEL.ADMIN);
    const owner = await newUser(LEVEL.OWNER);
    const otherAdmin = await newUser(LEVEL.ADMIN);
    const below = { status: 403, error: 'You can only act on users below your level' };
    expect(await refusal(adminAs(actor).users.ban({ username: owner.username }))).toMatchObject({ ...below });
    expect(await refusal(adminAs(actor).users.ban({ username: otherAdmin.username }))).toMatchObject({
      ...below,
    });
    expect((await findUserById(db, owner.id))!.state).toBe(STATE.ACTIVE);
    expect((await findUserById(db, otherAdmin.id))!.state).toBe(STATE.ACTIVE);
  });

  it('an Admin acts on users and assigns levels only up to User', async () => {
    const { actor } = await actorAt(LEVEL.ADMIN);
    const target = await newUser();
    const upToUser = { status: 403, error: 'You can only assign levels up to User' };
    expect(
      await refusal(adminAs(actor).users.setLevel({ username: target.username, level: 2 })),
    ).toMatchObject(upToUser);
    expect(
      await refusal(adminAs(actor).users.create({ username: uniqueName('adm'), level: 2 })),
    ).toMatchObject(upToUser);
    const warned = await adminAs(actor).users.warn({ username: target.username, reason: 'be nice' });
    expect(warned.user.id).toBe(target.id);
    const created = await adminAs(actor).users.create({ username: uniqueName('adm') });
    expect(created.permission_level).toBe(0);
  });

  it('an Owner promotes to Admin but not to Owner, and acts on other Owners', async () => {
    const { actor } = await actorAt(LEVEL.OWNER);
    const target = await newUser();
    const promoted = await adminAs(actor).users.setLevel({ username: target.username, level: 2 });
    expect(promoted.user.permission_level).toBe(2);
    expect((await lastAudit(target.id, 'user.promote'))?.details).toMatchObject({ from: 0, to: 2 });
    expect(
      await refusal(adminAs(actor).users.setLevel({ username: target.username, level: 3 })),
    ).toMatchObject({
      status: 403,
      error: 'You can only assign levels up to Admin',
    });
    const demoted = await adminAs(actor).users.setLevel({ username: target.username, level: 0 });
    expect(demoted.user.permission_level).toBe(0);
    expect(await lastAudit(target.id, 'user.demote')).toBeDefined();

    const otherOwner = await newUser(LEVEL.OWNER);
    await adminAs(actor).users.warn({ username: otherOwner.username, reason: 'owners answer to owners' });
    const banned = await adminAs(actor).users.ban({ username: otherOwner.username, reason: 'rogue owner' });
    expect(banned.user.state).toBe(STATE.BANNED);
  });

  it('the system actor creates Owners and may do anything an Owner may', async () => {
    const owner = await system().users.create({ username: uniqueName('own'), level: 3 });
    expect(owner.permission_level).toBe(3);
    const audit = await lastAudit(owner.id, 'user.create');
    expect(audit).toMatchObject({ actorLabel: 'system', actorUserId: null, targetType: 'user' });
    expect(audit?.details).toMatchObject({ level: 3 });
  });

  it('refuses non-admin users and names a missing target', async () => {
    const { actor } = await actorAt(LEVEL.USER);
    expect(await refusal(adminAs(actor).invites.today())).toMatchObject({
      status: 403,
      error: 'Admin access required',
    });
    expect(await refusal(system().users.ban({ username: 'no_such_user_here' }))).toMatchObject({
      status: 404,
      error: 'User not found',
    });
  });
});

describe('moderation', () => {
  it('ban sets state 2 with the reason, ends every session, records a punishment and an audit row', async () => {
    const { actor, user: admin } = await actorAt(LEVEL.ADMIN);
    const target = await newUser();
    await createSession(db, server.deps.secretKey, { user: target, method: 'password' });
    await createSession(db, server.deps.secretKey, { user: target, method: 'otp' });
    expect(await db.select().from(sessions).where(eq(sessions.userId, target.id))).toHaveLength(2);

    const result = await adminAs(actor).users.ban({
      username: target.username.toUpperCase(),
      reason: 'spam',
    });
    expect(result.ended_sessions).toBe(2);
    expect(await db.select().from(sessions).where(eq(sessions.userId, target.id))).toHaveLength(0);
    const row = (await findUserById(db, target.id))!;
    expect(row.state).toBe(STATE.BANNED);
    expect(row.stateReason).toBe('spam');
    const [punishment] = await db.select().from(punishments).where(eq(punishments.userId, target.id));
    expect(punishment).toMatchObject({ kind: 'ban', reason: 'spam', actorUserId: admin.id });
    expect(await lastAudit(target.id, 'user.ban')).toMatchObject({
      actorUserId: admin.id,
      actorLabel: admin.username,
      targetType: 'user',
      reason: 'spam',
    });

    const unbanned = await adminAs(actor).users.unban({
      username: target.username,
      reason: 'appeal accepted',
    });
    expect(unbanned.user).toMatchObject({ state: STATE.ACTIVE, state_reason: null, state_expires_at: null });
    expect(await lastAudit(target.id, 'user.unban')).toMatchObject({ reason: 'appeal accepted' });
  });

  it('timeout sets state 1 with its expiry, and warn adds a punishment', async () => {
    const target = await newUser();
    const before = Date.now();
    const timed = await system().users.timeout({
      username: target.username,
      minutes: 90,
      reason: 'cool down',
    });
    expect(timed.user.state).toBe(STATE.TIMEOUT);
    expectNear(timed.user.state_expires_at, before + 90 * 60_000);
    await system().users.warn({ username: target.username, reason: 'last warning' });
    const rows = await db
      .select()
      .from(punishments)
      .where(eq(punishments.userId, target.id))
      .orderBy(punishments.id);
    expect(rows.map((r) => [r.kind, r.reason])).toEqual([
      ['timeout', 'cool down'],
      ['warn', 'last warning'],
    ]);
    expect(rows[0]!.expiresAt!.toISOString()).toBe(timed.user.state_expires_at);
    expect(await lastAudit(target.id, 'user.timeout')).toMatchObject({
      actorLabel: 'system',
      reason: 'cool down',
    });
    expect(await lastAudit(target.id, 'user.warn')).toMatchObject({
      actorLabel: 'system',
      reason: 'last warning',
    });
    expect(await refusal(system().users.timeout({ username: target.username, minutes: 0 }))).toMatchObject({
      status: 400,
      error: 'minutes must be at least 1',
    });
  });

  it('delete removes the user; scopes are normalised and validated', async () => {
    const target = await newUser();
    const scoped = await system().users.setScopes({
      username: target.username,
      scopes: ' access:ssh , access:vnc ',
    });
    expect(scoped.user.scopes).toBe('access:ssh,access:vnc');
    expect((await lastAudit(target.id, 'user.scopes'))?.details).toEqual({
      from: 'access:*',
      to: 'access:ssh,access:vnc',
    });
    expect(
      await refusal(system().users.setScopes({ username: target.username, scopes: 'root' })),
    ).toMatchObject({
      status: 400,
      error: 'scopes must be access:* or a comma-separated list of access:<category>',
    });

    const deleted = await system().users.delete({ username: target.username, reason: 'requested' });
    expect(deleted).toEqual({ id: target.id, username: target.username, deleted: true });
    expect(await findUserById(db, target.id)).toBeNull();
    expect(await lastAudit(target.id, 'user.delete')).toMatchObject({
      reason: 'requested',
      actorLabel: 'system',
    });
  });
});

describe('subscriptions', () => {
  it('a trial is always 7 days and granted only once, even after a revoke', async () => {
    const target = await newUser();
    const before = Date.now();
    const granted = await system().subscriptions.grant({
      username: target.username,
      tier: 'trial',
      days: 30,
    });
    expect(granted.subscription).toMatchObject({ tier: TIER.TRIAL, has_premium: true, chat_slots: 1 });
    expectNear(granted.subscription.subscription_expires_at, before + 7 * DAY);
    expect((await lastAudit(target.id, 'subscription.grant'))?.details).toMatchObject({
      tier: 'trial',
      days: 7,
    });

    const revoked = await system().subscriptions.revoke({ username: target.username });
    expect(revoked.subscription).toMatchObject({
      tier: TIER.BASIC,
      has_premium: false,
      subscription_expires_at: null,
    });
    expect(await lastAudit(target.id, 'subscription.revoke')).toBeDefined();

    expect(
      await refusal(system().subscriptions.grant({ username: target.username, tier: 'trial' })),
    ).toMatchObject({
      status: 409,
      error: 'Trial already granted',
    });
    expect((await findUserById(db, target.id))!.subscriptionTier).toBe(TIER.BASIC);
  });

  it('premium needs days; lifetime never expires', async () => {
    const target = await newUser();
    expect(
      await refusal(system().subscriptions.grant({ username: target.username, tier: 'premium' })),
    ).toMatchObject({
      status: 400,
      error: 'days is required for a premium subscription',
    });
    const before = Date.now();
    const premium = await system().subscriptions.grant({
      username: target.username,
      tier: 'premium',
      days: 30,
    });
    expect(premium.subscription.tier).toBe(TIER.PREMIUM);
    expectNear(premium.subscription.subscription_expires_at, before + 30 * DAY);
    const lifetime = await system().subscriptions.grant({ username: target.username, tier: 'lifetime' });
    expect(lifetime.subscription).toMatchObject({
      tier: TIER.LIFETIME,
      has_premium: true,
      subscription_expires_at: null,
    });
  });

  it('an Admin cannot manage the subscription of an Admin', async () => {
    const { actor } = await actorAt(LEVEL.ADMIN);
    const otherAdmin = await newUser(LEVEL.ADMIN);
    expect(
      await refusal(adminAs(actor).subscriptions.grant({ username: otherAdmin.username, tier: 'lifetime' })),
    ).toMatchObject({ status: 403 });
  });

  it('the background task downgrades expired Trial/Premium and leaves Lifetime alone', async () => {
    const expired = await newUser();
    const current = await newUser();
    const lifetime = await newUser();
    const past = new Date(Date.now() - 60_000);
    await db
      .update(users)
      .set({ subscriptionTier: TIER.PREMIUM, subscriptionExpiresAt: past })
      .where(eq(users.id, expired.id));
    await db
      .update(users)
      .set({ subscriptionTier: TIER.TRIAL, subscriptionExpiresAt: new Date(Date.now() + DAY) })
      .where(eq(users.id, current.id));
    await db
      .update(users)
      .set({ subscriptionTier: TIER.LIFETIME, subscriptionExpiresAt: null })
      .where(eq(users.id, lifetime.id));

    const { downgraded } = await downgradeExpiredSubscriptions(db);
    expect(downgraded).toBeGreaterThanOrEqual(1);
    expect(await findUserById(db, expired.id)).toMatchObject({
      subscriptionTier: TIER.BASIC,
      subscriptionExpiresAt: null,
    });
    expect((await findUserById(db, current.id))!.subscriptionTier).toBe(TIER.TRIAL);
    expect((await findUserById(db, lifetime.id))!.subscriptionTier).toBe(TIER.LIFETIME);
    expect(await lastAudit(expired.id, 'subscription.expire')).toMatchObject({
      actorLabel: 'system',
      actorUserId: null,
    });
    expect(await lastAudit(current.id, 'subscription.expire')).toBeUndefined();

    // A second run finds nothing more to do for these users.
    await downgradeExpiredSubscriptions(db);
    const expiries = await db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, String(expired.id)), eq(auditLog.action, 'subscription.expire')));
    expect(expiries).toHaveLength(1);
  });
});

describe('bots, invites, announcements, audit, health', () => {
  it('creates a bot (key once, never in the audit log), sets its type and rate limit', async () => {
    const owner = await newUser();
    const bot = await system().bots.create({
      name: 'helper bot',
      type: 'verified',
      rateLimitPerHour: 120,
      owner: owner.username,
    });
    expect(bot).toEqual({
      id: expect.any(Number),
      name: 'helper bot',
      api_key: expect.stringMatching(/^pbot_/),
    });
    const audit = await lastAudit(bot.id, 'bot.create');
    expect(audit?.details).toMatchObject({
      type: 'verified',
      rate_limit_per_hour: 120,
      owner_user_id: owner.id,
    });
    expect(JSON.stringify(audit)).not.toContain(bot.api_key);

    expect(await system().bots.setType({ botId: bot.id, type: 'official' })).toMatchObject({
      type: 'official',
    });
    expect((await lastAudit(bot.id, 'bot.set_type'))?.details).toEqual({ from: 'verified', to: 'official' });
    expect(await system().bots.setRateLimit({ botId: bot.id, perHour: 900 })).toMatchObject({
      rate_limit_per_hour: 900,
    });
    expect((await lastAudit(bot.id, 'bot.set_rate_limit'))?.details).toEqual({ from: 120, to: 900 });
    expect(await refusal(system().bots.setType({ botId: 999_999, type: 'official' }))).toMatchObject({
      status: 404,
      error: 'Bot not found',
    });
  });

  it("gives today's invite code and audits who read it", async () => {
    const { actor, user } = await actorAt(LEVEL.ADMIN);
    const today = await adminAs(actor).invites.today();
    expect(today).toEqual({
      code: inviteCodeFor(server.deps.secretKey),
      date: new Date().toISOString().slice(0, 10),
    });
    const [row] = await db.select().from(auditLog).where(eq(auditLog.actorUserId, user.id));
    expect(row).toMatchObject({ action: 'invite.view', actorLabel: user.username });
  });

  it('creates, lists and deletes announcements', async () => {
    const forever = await system().announcements.create({
      title: 'Maintenance',
      message: 'Sunday 02:00 UTC',
    });
    const weekly = await system().announcements.create({ title: 'News', message: 'Hello', expiresInDays: 7 });
    expect(forever.expires_at).toBeNull();
    expectNear(weekly.expires_at, Date.now() + 7 * DAY);
    const { announcements } = await system().announcements.list();
    expect(announcements.slice(0, 2).map((a) => [a.id, a.active])).toEqual([
      [weekly.id, true],
      [forever.id, true],
    ]);
    expect(await system().announcements.delete({ id: forever.id })).toEqual({
      id: forever.id,
      deleted: true,
    });
    expect((await system().announcements.list()).announcements.map((a) => a.id)).not.toContain(forever.id);
    expect(await refusal(system().announcements.delete({ id: forever.id }))).toMatchObject({ status: 404 });
    expect(await lastAudit(forever.id, 'announcement.create')).toBeDefined();
    expect(await lastAudit(forever.id, 'announcement.delete')).toBeDefined();
  });

  it('lists the audit log newest first, 50 by default, up to the limit asked', async () => {
    for (let i = 0; i < 3; i++) await system().users.create({ username: uniqueName('aud') });
    const all = await db.select().from(auditLog);
    const { entries } = await system().audit.list({});
    expect(entries).toHaveLength(Math.min(50, all.length));
    const ids = entries.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(ids[0]).toBe(Math.max(...all.map((r) => r.id)));
    const two = await system().audit.list({ limit: 2 });
    expect(two.entries.map((e) => e.id)).toEqual(ids.slice(0, 2));
    expect(two.entries[0]).toMatchObject({ action: 'user.create', actor: 'system', target_type: 'user' });
    expect(await refusal(system().audit.list({ limit: 1001 }))).toMatchObject({ status: 400 });
  });

  it('reports process, CPU, memory, disk, database and bus health', async () => {
    const health = await system().health.system();
    expect(health.process).toMatchObject({ pid: process.pid, uptime_seconds: expect.any(Number) });
    expect(health.process.memory.rss_bytes).toBeGreaterThan(0);
    expect(health.process.memory.heap_used_bytes).toBeGreaterThan(0);
    expect(health.process.cpu_percent).toBeGreaterThanOrEqual(0);
    expect(health.memory.total_bytes).toBeGreaterThanOrEqual(health.memory.free_bytes);
    expect(health.memory.free_bytes).toBeGreaterThan(0);
    expect(health.cpu.count).toBeGreaterThan(0);
    expect(Object.keys(health.cpu.load_average)).toEqual(['1m', '5m', '15m']);
    expect(health.disk.free_bytes).toBeGreaterThan(0);
    expect(health.disk.total_bytes).toBeGreaterThanOrEqual(health.disk.free_bytes!);
    expect(health.database).toMatchObject({ kind: server.deps.database.kind, state: 'ok' });
    expect(health.bus).toMatchObject({ kind: 'local', state: 'ok' });
  });
});
