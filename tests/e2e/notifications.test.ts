import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalBus } from '../../src/core/bus';
import { describeError } from '../../src/core/errors';
import { announcements, auditLog, notifications, users } from '../../src/db/schema';
import { createSession } from '../../src/services/auth/sessions';
import { currentTotp } from '../../src/services/auth/totp';
import { notify } from '../../src/services/notifications/notify';
import { notifySecurity, securityNotice } from '../../src/services/notifications/security';
import { api, makeBot, makeUser, signIn, uniqueName } from '../helpers/identity';
import { adminCaller, startTestServer, type TestServer } from '../helpers/server';

// The notifications inbox of API.md §4 over real HTTP, on both path families, and the sources that
// create notifications: sign-ins, password/2FA/API-key changes, moderation, announcements, admins.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: { RATE_LIMIT_LOGIN: '100000', RATE_LIMIT_AUTH: '100000', RATE_LIMIT_ADMIN: '100000' },
  });
});
afterAll(() => server?.close());

const db = () => server.deps.database.db;
const push = () => ({ db: db(), bus: server.deps.bus, log: server.deps.log });

const admin = () => adminCaller(server);

/** A user with a session token (no sign-in, so no `security` notification to start with). */
async function member() {
  const made = await makeUser(server);
  const { token } = await createSession(db(), server.deps.secretKey, { user: made.user, method: 'password' });
  return { ...made, id: made.user.id, token };
}

const send = (userId: number, title: string, extra: { link?: string; data?: Record<string, unknown> } = {}) =>
  notify(push(), { userIds: [userId], type: 'mention', title, message: `${title} message`, ...extra });

type Listed = { notifications: Array<Record<string, unknown>>; unread_count: number };

async function list(token: string, query = '', family: '' | '/api' = '') {
  const res = await api(server, 'GET', `${family}/notifications${query}`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as unknown as Listed;
}

async function expectError(
  res: Promise<Awaited<ReturnType<typeof api>>>,
  status: number,
  error: string,
): Promise<void> {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body).toMatchObject({ error, status });
}

async function waitUntil(check: () => boolean, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('authentication', () => {
  it('answers 401 on every notifications path without credentials', async () => {
    for (const family of ['', '/api']) {
      for (const [method, path] of [
        ['GET', '/notifications'],
        ['GET', '/notifications/unread-count'],
        ['POST', '/notifications/1/read'],
        ['POST', '/notifications/read-all'],
      ] as const) {
        await expectError(api(server, method, `${family}${path}`), 401, 'Authentication required');
      }
    }
  });
});

describe('inbox', () => {
  it('lists newest first with the unread count, on both path families', async () => {
    const me = await member();
    const first = await send(me.id, 'First', { link: '/streams/7', data: { stream_id: 7 } });
    const second = await send(me.id, 'Second');
    expect(first.count).toBe(1);

    const root = await list(me.token);
    expect(root.unread_count).toBe(2);
    expect(root.notifications.map((n) => n.title)).toEqual(['Second', 'First']);
    expect(root.notifications[1]).toEqual({
      id: first.id,
      type: 'mention',
      title: 'First',
      message: 'First message',
      link: '/streams/7',
      data: { stream_id: 7 },
      read: false,
      is_read: false,
      created_at: expect.stringMatching(ISO),
    });
    expect(root.notifications[0]).toMatchObject({ id: second.id, link: null, data: null });
    expect(await list(me.token, '', '/api')).toEqual(root);

    for (const family of ['', '/api']) {
      const count = await api(server, 'GET', `${family}/notifications/unread-count`, { token: me.token });
      expect(count.status).toBe(200);
      expect(count.body).toEqual({ unread_count: 2 });
    }
  });

  it('marks one read (idempotently), lists ?unread=1, and marks all read with a count', async () => {
    const me = await member();
    const a = await send(me.id, 'A');
    const b = await send(me.id, 'B');
    const c = await send(me.id, 'C');

    const read = await api(server, 'POST', `/notifications/${a.id}/read`, { token: me.token });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ success: true });
    const again = await api(server, 'POST', `/api/notifications/${a.id}/read`, { token: me.token });
    expect(again.body).toEqual({ success: true });

    const unread = await list(me.token, '?unread=1');
    expect(unread.notifications.map((n) => n.id)).toEqual([c.id, b.id]);
    expect(unread.unread_count).toBe(2);
    expect((await list(me.token, '?unread=true', '/api')).notifications).toHaveLength(2);
    const all = await list(me.token, '?unread=0');
    expect(all.notifications.map((n) => [n.id, n.read, n.is_read])).toEqual([
      [c.id, false, false],
      [b.id, false, false],
      [a.id, true, true],
    ]);

    await api(server, 'POST', `/api/notifications/${b.id}/read`, { token: me.token });
    const readAll = await api(server, 'POST', '/notifications/read-all', { token: me.token });
    expect(readAll.status).toBe(200);
    expect(readAll.body).toEqual({ success: true, count: 1 });
    const none = await api(server, 'POST', '/api/notifications/read-all', { token: me.token });
    expect(none.body).toEqual({ success: true, count: 0 });
    expect((await list(me.token, '?unread=1')).notifications).toEqual([]);
    expect((await api(server, 'GET', '/api/notifications/unread-count', { token: me.token })).body).toEqual({
      unread_count: 0,
    });
  });

  it('pages with limit and before_id', async () => {
    const me = await member();
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await send(me.id, `N${i}`)).id);
    const page1 = await list(me.token, '?limit=2');
    expect(page1.notifications.map((n) => n.id)).toEqual([ids[4], ids[3]]);
    expect(page1.unread_count).toBe(5);
    const page2 = await list(me.token, `?limit=2&before_id=${ids[3]}`);
    expect(page2.notifications.map((n) => n.id)).toEqual([ids[2], ids[1]]);
    const page3 = await list(me.token, `?limit=2&before_id=${ids[1]}`, '/api');
    expect(page3.notifications.map((n) => n.id)).toEqual([ids[0]]);
  });

  it("never lists or marks another user's notification: 404 Notification not found", async () => {
    const me = await member();
    const other = await member();
    const theirs = await send(other.id, 'Private to the other user');
    const mine = await send(me.id, 'Mine');

    for (const family of ['', '/api']) {
      await expectError(
        api(server, 'POST', `${family}/notifications/${theirs.id}/read`, { token: me.token }),
        404,
        'Notification not found',
      );
      await expectError(
        api(server, 'POST', `${family}/notifications/2147483000/read`, { token: me.token }),
        404,
        'Notification not found',
      );
    }
    const listed = await list(me.token);
    expect(listed.notifications.map((n) => n.id)).toEqual([mine.id]);
    // Marking all read touches only the caller's rows.
    await api(server, 'POST', '/notifications/read-all', { token: me.token });
    expect((await list(other.token, '?unread=1')).notifications.map((n) => n.id)).toEqual([theirs.id]);
  });

  it('names the first invalid field', async () => {
    const me = await member();
    const cases: Array<[string, string]> = [
      ['/notifications?limit=0', 'limit must be at least 1'],
      ['/notifications?limit=101', 'limit must be at most 100'],
      ['/api/notifications?limit=many', 'limit must be a number'],
      ['/notifications?limit=2.5', 'limit must be an integer'],
      ['/notifications?before_id=0', 'before_id must be at least 1'],
      ['/notifications?unread=yes', 'unread must be one of 0, 1, true, false'],
    ];
    for (const [path, error] of cases)
      await expectError(api(server, 'GET', path, { token: me.token }), 400, error);
    await expectError(
      api(server, 'POST', '/notifications/abc/read', { token: me.token }),
      400,
      'id must be a number',
    );
    await expectError(
      api(server, 'POST', '/api/notifications/0/read', { token: me.token }),
      400,
      'id must be at least 1',
    );
  });

  it('the service refuses unknown types, over-long text and unsafe links', async () => {
    const me = await member();
    const refused = async (input: Record<string, unknown>) => {
      try {
        await notify(push(), {
          userIds: [me.id],
          type: 'mention',
          title: 't',
          message: 'm',
          ...input,
        } as never);
      } catch (err) {
        return describeError(err).body.error;
      }
      throw new Error('expected a refusal');
    };
    expect(await refused({ type: 'party' })).toMatch(/^type must be one of stream_live, dm_message/);
    expect(await refused({ title: 'x'.repeat(201) })).toBe('title must be at most 200 characters');
    expect(await refused({ message: 'x'.repeat(4001) })).toBe('message must be at most 4000 characters');
    expect(await refused({ link: 'javascript:alert(1)' })).toBe(
      'link must be a path starting with / or an http(s) URL',
    );
    expect(await refused({ link: '//evil.example/x' })).toBe(
      'link must be a path starting with / or an http(s) URL',
    );
    const ok = await notify(push(), {
      userIds: [me.id],
      type: 'stream_live',
      title: 'x'.repeat(200),
      message: 'y'.repeat(4000),
      link: 'https://example.com/live',
    });
    expect(ok.count).toBe(1);
    // Unknown recipients are skipped, not an error.
    expect(
      (await notify(push(), { userIds: [2147483000], type: 'mention', title: 't', message: 'm' })).count,
    ).toBe(0);
  });
});

describe('sources', () => {
  it('a new sign-in (POST /api/token) creates a security notification', async () => {
    const me = await makeUser(server);
    const token = await signIn(server, me.username, me.password);
    const [latest] = (await list(token)).notifications;
    expect(latest).toMatchObject({
      type: 'security',
      title: 'New sign-in',
      read: false,
      data: { event: 'sign_in', method: 'password', ip: '127.0.0.1' },
    });
    expect(String(latest!.message)).toContain('from 127.0.0.1');
  });

  it('a sign-in with a login code (POST /auth/verify) creates a security notification', async () => {
    const { apiKey } = await makeBot(server);
    const bot = { 'x-api-key': apiKey };
    const username = uniqueName('otp');
    const linked = await api(server, 'POST', '/bot/users', {
      headers: bot,
      body: { platform_user_id: uniqueName('p'), username },
    });
    expect(linked.status, JSON.stringify(linked.body)).toBe(200);
    const requested = await api(server, 'POST', '/auth/request', { body: { username } });
    const requestId = String(requested.body.request_id);
    const codes = (await api(server, 'GET', '/bot/login-codes', { headers: bot })).body.codes as Array<{
      request_id: string;
      code: string;
    }>;
    const code = codes.find((c) => c.request_id === requestId)!.code;
    const verified = await api(server, 'POST', '/auth/verify', {
      body: { request_id: requestId, code },
      headers: { 'user-agent': 'notification-test/1.0' },
    });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    const [latest] = (await list(String(verified.body.token))).notifications;
    expect(latest).toMatchObject({
      type: 'security',
      title: 'New sign-in',
      data: { event: 'sign_in', method: 'otp', user_agent: 'notification-test/1.0' },
    });
    expect(String(latest!.message)).toContain('(login code) from 127.0.0.1 using notification-test/1.0');
  });

  it('a security notice never fails its action: push and write failures are logged', async () => {
    const me = await member();
    const warnings: string[] = [];
    const log = { warn: (_obj: object, msg?: string) => void warnings.push(msg ?? '') };
    const closedBus = createLocalBus({ log });
    await closedBus.close();
    const deps = { db: db(), bus: closedBus, log };
    await expect(notifySecurity(deps, me.id, securityNotice.twoFactor(true))).resolves.toBeUndefined();
    await expect(
      notifySecurity(deps, me.id, { title: 'x'.repeat(201), message: 'm', data: {} }),
    ).resolves.toBeUndefined();
    await waitUntil(() => warnings.length === 2);
    expect(warnings.sort()).toEqual(['notification stored but not pushed', 'security notification failed']);
    // The first notice was still written: the push is what failed.
    expect((await list(me.token)).notifications.map((n) => n.title)).toEqual([
      'Two-factor authentication enabled',
    ]);
  });

  it('password change, 2FA on/off and API key creation, revocation and deletion each notify', async () => {
    const me = await member();
    const events = async () =>
      (await list(me.token)).notifications
        .filter((n) => n.type === 'security')
        .map((n) => (n.data as { event: string }).event);

    const key = await api(server, 'POST', '/api/keys', { token: me.token, body: { name: 'ci' } });
    expect(key.status).toBe(200);
    expect(await events()).toEqual(['api_key_created']);
    const spare = await api(server, 'POST', '/api/keys', { token: me.token, body: { name: 'spare' } });
    await api(server, 'POST', `/api/keys/${key.body.id}/revoke`, { token: me.token });
    await api(server, 'DELETE', `/api/keys/${spare.body.id}`, { token: me.token });
    expect(await events()).toEqual([
      'api_key_deleted',
      'api_key_revoked',
      'api_key_created',
      'api_key_created',
    ]);
    // Another user's key id: 404, and no notice for anyone.
    const other = await member();
    const foreign = await api(server, 'DELETE', `/api/keys/${key.body.id}`, { token: other.token });
    expect(foreign.status).toBe(404);

    const setup = await api(server, 'POST', '/api/2fa/setup', { token: me.token });
    const secret = String(setup.body.secret);
    const enabled = await api(server, 'POST', '/api/2fa/enable', {
      token: me.token,
      body: { code: currentTotp(secret) },
    });
    expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
    const backup = (enabled.body.backup_codes as string[])[0]!;
    await api(server, 'POST', '/api/2fa/disable', { token: me.token, body: { code: backup } });
    expect((await events()).slice(0, 3)).toEqual(['2fa_disabled', '2fa_enabled', 'api_key_deleted']);

    const changed = await api(server, 'PUT', '/api/me/password', {
      token: me.token,
      body: { current_password: me.password, new_password: 'a brand new password' },
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    const [latest] = (await list(me.token)).notifications;
    expect(latest).toMatchObject({
      type: 'security',
      title: 'Password changed',
      data: { event: 'password_changed' },
    });
  });

  it('warn, timeout and ban through the admin router notify the user (moderation)', async () => {
    const me = await member();
    await admin().users.warn({ username: me.username, reason: 'spamming' });
    const [warned] = (await list(me.token)).notifications;
    expect(warned).toMatchObject({
      type: 'moderation',
      title: 'Warning',
      message: 'You were warned: spamming',
      data: { action: 'warn', reason: 'spamming' },
    });

    await admin().users.timeout({ username: me.username, minutes: 5 });
    const [timedOut] = (await list(me.token)).notifications;
    expect(timedOut).toMatchObject({ type: 'moderation', message: 'You were timed out for 5 minutes.' });
    expect((timedOut!.data as { expires_at: string }).expires_at).toMatch(ISO);

    await admin().users.ban({ username: me.username, reason: 'enough' });
    const rows = await db().select().from(notifications).where(eq(notifications.userId, me.id));
    expect(rows.map((r) => r.message).sort()).toEqual(
      ['You were banned: enough', 'You were timed out for 5 minutes.', 'You were warned: spamming'].sort(),
    );
  });

  it('an announcement notifies every user with one shared notification id', async () => {
    const a = await member();
    const b = await member();
    const created = await admin().announcements.create({ title: 'Maintenance', message: 'Down at noon' });
    const [na] = (await list(a.token)).notifications;
    const [nb] = (await list(b.token)).notifications;
    expect(na).toMatchObject({
      type: 'announcement',
      title: 'Maintenance',
      message: 'Down at noon',
      data: { announcement_id: created.id },
    });
    expect(nb!.id).toBe(na!.id);
    // One user's read state is their own.
    await api(server, 'POST', `/notifications/${na!.id}/read`, { token: a.token });
    expect((await list(b.token, '?unread=1')).notifications.map((n) => n.id)).toContain(nb!.id);
    expect((await list(a.token, '?unread=1')).notifications.map((n) => n.id)).not.toContain(na!.id);
  });

  it('a user who registers after an announcement finds it in the inbox; expired ones not', async () => {
    const live = await admin().announcements.create({ title: 'Welcome', message: 'Read the rules' });
    const gone = await admin().announcements.create({
      title: 'Old news',
      message: 'Expired',
      expiresInDays: 1,
    });
    await db()
      .update(announcements)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(announcements.id, gone.id));
    const early = await member();
    const late = await member();
    const mine = (await list(late.token)).notifications.filter((n) => n.type === 'announcement');
    expect(mine.map((n) => n.data)).toContainEqual({ announcement_id: live.id });
    expect(mine.map((n) => n.data)).not.toContainEqual({ announcement_id: gone.id });
    const shared = (await list(early.token)).notifications.find(
      (n) => (n.data as { announcement_id?: number } | null)?.announcement_id === live.id,
    );
    expect(mine.find((n) => (n.data as { announcement_id: number }).announcement_id === live.id)!.id).toBe(
      shared!.id,
    );
  });

  it('admin notify and broadcast create admin notifications and audit rows', async () => {
    const me = await member();
    const sent = await admin().notifications.notify({
      username: me.username.toUpperCase(),
      title: 'Hello',
      message: 'From the admins',
      link: '/announcements',
    });
    expect(sent).toEqual({ count: 1 });
    const [latest] = (await list(me.token)).notifications;
    expect(latest).toMatchObject({ type: 'admin', title: 'Hello', link: '/announcements' });
    const [audit] = await db()
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'notification.send'), eq(auditLog.targetId, String(me.id))));
    expect(audit).toMatchObject({
      actorLabel: 'system',
      details: { notification_id: latest!.id, title: 'Hello' },
    });

    const missing = await admin()
      .notifications.notify({ username: 'nobody_here_at_all', title: 't', message: 'm' })
      .catch((err: unknown) => describeError(err).body);
    expect(missing).toEqual({ error: 'User not found', status: 404 });
    const badLink = await admin()
      .notifications.broadcast({ title: 't', message: 'm', link: 'javascript:alert(1)' })
      .catch((err: unknown) => describeError(err).body);
    expect(badLink).toMatchObject({
      status: 400,
      error: 'link must be a path starting with / or an http(s) URL',
    });

    const broadcast = await admin().notifications.broadcast({ title: 'Everyone', message: 'Hi all' });
    const total = await db().$count(users);
    expect(broadcast.count).toBe(total);
    expect((await list(me.token)).notifications[0]).toMatchObject({ type: 'admin', title: 'Everyone' });
    const [broadcastAudit] = await db()
      .select()
      .from(auditLog)
      .where(eq(auditLog.action, 'notification.broadcast'));
    expect(broadcastAudit?.details).toMatchObject({ title: 'Everyone', count: total });
  });
});
