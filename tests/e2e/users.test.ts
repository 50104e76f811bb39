import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { punishments, users } from '../../src/db/schema';
import { createAnnouncement } from '../../src/services/announcements/announcements';
import { writeAudit } from '../../src/services/audit/audit';
import { createApiKey } from '../../src/services/auth/api-keys';
import { createSession } from '../../src/services/auth/sessions';
import { createUser } from '../../src/services/users/accounts';
import { isBlockedEitherWay } from '../../src/services/users/blocks';
import { api, makeUser } from '../helpers/identity';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// The users router over real HTTP (API.md §1 "Users", seed 003 redaction and hierarchy).

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: NO_REQUEST_LIMITS,
  });
});
afterAll(() => server?.close());

const db = () => server.deps.database.db;

/** A signed-in user: a real session in the store, presented as a Bearer token. */
async function signedIn(opts: { level?: number; username?: string } = {}) {
  const made = await makeUser(server, opts);
  const { token } = await createSession(db(), server.deps.secretKey, { user: made.user, method: 'password' });
  return { ...made, token };
}

/** A fresh prefix, so searches in one test never see users of another. */
const tag = () => `t${randomBytes(4).toString('hex')}`;

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const ADMIN_ONLY_FIELDS = ['scopes', 'state', 'subscription', 'totp_enabled', 'permission_level'];

async function expectError(
  res: Promise<Awaited<ReturnType<typeof api>>>,
  status: number,
  error: string,
): Promise<Record<string, unknown>> {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error).toBe(error);
  expect(r.body.status).toBe(status);
  return r.body;
}

describe('authentication', () => {
  it('answers 401 "Authentication required" on every authed endpoint without credentials', async () => {
    const calls: Array<[string, string, unknown?]> = [
      ['GET', '/users/me'],
      ['GET', '/api/me'],
      ['GET', '/users/me/subscription'],
      ['GET', '/users/me/punishments'],
      ['GET', '/users/search?q=a'],
      ['PUT', '/api/me/status', { status: 'away' }],
      ['PUT', '/api/me/nickname', { nickname: 'Ali' }],
      ['PUT', '/api/me/avatar', { color: '#123456' }],
      ['PUT', '/api/me/anonymous', { anonymous: true }],
      ['GET', '/api/chat/users/search?q=a'],
      ['GET', '/api/blocks'],
      ['POST', '/api/blocks/1', {}],
      ['DELETE', '/api/blocks/1'],
      ['GET', '/announcements'],
    ];
    for (const [method, path, body] of calls) {
      await expectError(api(server, method, path, { body }), 401, 'Authentication required');
    }
  });

  it('rejects an invalid Bearer token', async () => {
    await expectError(
      api(server, 'GET', '/users/me', { token: 'not-a-token' }),
      401,
      'Invalid or expired token',
    );
  });
});

describe('own profile', () => {
  it('GET /users/me and GET /api/me return the same own profile', async () => {
    const me = await signedIn();
    const a = await api(server, 'GET', '/users/me', { token: me.token });
    const b = await api(server, 'GET', '/api/me', { token: me.token });
    expect(a.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expect(a.body).toMatchObject({
      id: me.user.id,
      username: me.username,
      nickname: null,
      status: 'online',
      status_message: null,
      permission_level: 0,
      is_admin: false,
      scopes: 'access:*',
      state: 0,
      anonymous: false,
      totp_enabled: false,
      subscription: { tier: 0, has_premium: false, subscription_expires_at: null, chat_slots: 0 },
    });
    expect(a.body.avatar).toEqual({
      color: me.user.avatarColor,
      emoji: null,
      initials: me.username.slice(0, 2).toUpperCase(),
    });
    expect(a.body.created_at).toMatch(ISO);
    expect(a.body).not.toHaveProperty('password_hash');
    expect(a.body).not.toHaveProperty('totp_secret');
  });

  it('GET /users/me/subscription reflects tier, expiry and chat slots', async () => {
    const me = await signedIn();
    const expires = new Date(Date.now() + 10 * 86_400_000);
    await db()
      .update(users)
      .set({ subscriptionTier: 2, subscriptionExpiresAt: expires })
      .where(eq(users.id, me.user.id));
    const res = await api(server, 'GET', '/users/me/subscription', { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      tier: 2,
      has_premium: true,
      subscription_expires_at: expires.toISOString(),
      chat_slots: 1,
    });

    const admin = await signedIn({ level: 2 });
    const adminSub = await api(server, 'GET', '/users/me/subscription', { token: admin.token });
    expect(adminSub.body).toEqual({
      tier: 0,
      has_premium: false,
      subscription_expires_at: null,
      chat_slots: 5,
    });
    const owner = await signedIn({ level: 3 });
    const ownerSub = await api(server, 'GET', '/users/me/subscription', { token: owner.token });
    expect(ownerSub.body.chat_slots).toBeNull();
  });

  it('GET /users/me/punishments lists only the caller, newest first, paginated', async () => {
    const me = await signedIn();
    const other = await signedIn();
    const day = 86_400_000;
    const now = Date.now();
    await db()
      .insert(punishments)
      .values([
        { userId: me.user.id, kind: 'warn', reason: 'first', createdAt: new Date(now - 3 * day) },
        {
          userId: me.user.id,
          kind: 'timeout',
          reason: 'second',
          expiresAt: new Date(now - 2 * day + 3_600_000),
          createdAt: new Date(now - 2 * day),
        },
        { userId: me.user.id, kind: 'warn', reason: null, createdAt: new Date(now - day) },
        { userId: other.user.id, kind: 'ban', reason: 'not yours', createdAt: new Date(now) },
      ]);

    const all = await api(server, 'GET', '/users/me/punishments', { token: me.token });
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(3);
    expect(all.body.limit).toBe(50);
    expect(all.body.offset).toBe(0);
    const list = all.body.punishments as Array<Record<string, unknown>>;
    expect(list.map((p) => p.reason)).toEqual([null, 'second', 'first']);
    expect(list[1]).toEqual({
      id: expect.any(Number),
      kind: 'timeout',
      reason: 'second',
      expires_at: new Date(now - 2 * day + 3_600_000).toISOString(),
      created_at: new Date(now - 2 * day).toISOString(),
    });

    const page = await api(server, 'GET', '/users/me/punishments?limit=1&offset=1', { token: me.token });
    expect((page.body.punishments as Array<{ reason: string }>).map((p) => p.reason)).toEqual(['second']);
    expect(page.body).toMatchObject({ total: 3, limit: 1, offset: 1 });

    await expectError(
      api(server, 'GET', '/users/me/punishments?limit=101', { token: me.token }),
      400,
      'limit must be at most 100',
    );
    await expectError(
      api(server, 'GET', '/users/me/punishments?limit=0', { token: me.token }),
      400,
      'limit must be at least 1',
    );
    await expectError(
      api(server, 'GET', '/users/me/punishments?offset=-1', { token: me.token }),
      400,
      'offset must be at least 0',
    );
  });
});

describe('GET /users/{id}', () => {
  it('shows a public profile without credentials and to normal users', async () => {
    const target = await signedIn();
    const viewer = await signedIn();
    for (const token of [undefined, viewer.token]) {
      const res = await api(server, 'GET', `/users/${target.user.id}`, { token });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(
        ['avatar', 'created_at', 'id', 'is_admin', 'nickname', 'status', 'status_message', 'username'].sort(),
      );
      expect(res.body).toMatchObject({ id: target.user.id, username: target.username, is_admin: false });
      for (const field of [...ADMIN_ONLY_FIELDS, 'subscription_history', 'state_reason']) {
        expect(res.body).not.toHaveProperty(field);
      }
    }
  });

  it('gives Admins and Owners the full detail with the subscription history, newest first', async () => {
    const target = await signedIn();
    const admin = await signedIn({ level: 2 });
    const owner = await signedIn({ level: 3 });
    const actor = { userId: admin.user.id, label: admin.username };
    await writeAudit(db(), {
      actor,
      action: 'subscription.grant',
      targetType: 'user',
      targetId: target.user.id,
      reason: 'paid',
      details: { tier: 2, days: 30 },
    });
    await writeAudit(db(), { actor, action: 'user.warn', targetType: 'user', targetId: target.user.id });
    await writeAudit(db(), {
      actor,
      action: 'subscription.revoke',
      targetType: 'user',
      targetId: target.user.id,
    });
    await writeAudit(db(), {
      actor,
      action: 'subscription.grant',
      targetType: 'user',
      targetId: admin.user.id,
    });

    for (const viewer of [admin, owner]) {
      const res = await api(server, 'GET', `/users/${target.user.id}`, { token: viewer.token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: target.user.id,
        username: target.username,
        permission_level: 0,
        scopes: 'access:*',
        state: 0,
        state_reason: null,
        state_expires_at: null,
        totp_enabled: false,
        subscription: { tier: 0, has_premium: false, subscription_expires_at: null, chat_slots: 0 },
      });
      expect(res.body.updated_at).toMatch(ISO);
      const history = res.body.subscription_history as Array<Record<string, unknown>>;
      expect(history.map((h) => h.action)).toEqual(['subscription.revoke', 'subscription.grant']);
      expect(history[1]).toEqual({
        id: expect.any(Number),
        action: 'subscription.grant',
        actor: admin.username,
        reason: 'paid',
        details: { tier: 2, days: 30 },
        created_at: expect.stringMatching(ISO),
      });
    }
  });

  it('answers 404 for an unknown id and 400 for a malformed one', async () => {
    await expectError(api(server, 'GET', '/users/987654'), 404, 'User not found');
    await expectError(api(server, 'GET', '/users/abc'), 400, 'id must be a number');
    await expectError(api(server, 'GET', '/users/1.5'), 400, 'id must be an integer');
    await expectError(api(server, 'GET', '/users/0'), 400, 'id must be at least 1');
  });
});

describe('GET /users/search', () => {
  it('matches username or nickname without regard to case and returns public profiles', async () => {
    const t = tag();
    const alice = await signedIn({ username: `${t}_Alice` });
    const bob = await signedIn({ username: `${t}_bob` });
    await db()
      .update(users)
      .set({ nickname: `Zed ${t.toUpperCase()} X` })
      .where(eq(users.id, bob.user.id));
    await signedIn({ username: `other_${tag()}` });

    const res = await api(server, 'GET', `/users/search?q=${t.toUpperCase()}`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 2, limit: 50, offset: 0 });
    const found = res.body.users as Array<Record<string, unknown>>;
    expect(found.map((u) => u.username)).toEqual([`${t}_Alice`, `${t}_bob`]);
    for (const u of found) for (const field of ADMIN_ONLY_FIELDS) expect(u).not.toHaveProperty(field);

    const byNick = await api(server, 'GET', `/users/search?q=zed%20${t}`, { token: alice.token });
    expect((byNick.body.users as Array<{ id: number }>).map((u) => u.id)).toEqual([bob.user.id]);

    const page = await api(server, 'GET', `/users/search?q=${t}&limit=1&offset=1`, { token: alice.token });
    expect((page.body.users as Array<{ id: number }>).map((u) => u.id)).toEqual([bob.user.id]);
    expect(page.body.total).toBe(2);
  });

  it('gives Admins full details only of users below them, and Owners everyone', async () => {
    const t = tag();
    const user = await signedIn({ username: `${t}_user` });
    const admin = await signedIn({ username: `${t}_admin`, level: 2 });
    await signedIn({ username: `${t}_admin2`, level: 2 });
    const owner = await signedIn({ username: `${t}_owner`, level: 3 });
    await signedIn({ username: `${t}_owner2`, level: 3 });

    const asAdmin = await api(server, 'GET', `/users/search?q=${t}`, { token: admin.token });
    expect(asAdmin.status).toBe(200);
    const adminSees = asAdmin.body.users as Array<Record<string, unknown>>;
    expect(adminSees.map((u) => u.username)).toEqual([`${t}_user`]);
    expect(asAdmin.body.total).toBe(1);
    expect(adminSees[0]).toMatchObject({
      id: user.user.id,
      scopes: 'access:*',
      state: 0,
      permission_level: 0,
    });
    expect(adminSees[0]).toHaveProperty('subscription');

    const asOwner = await api(server, 'GET', `/users/search?q=${t}`, { token: owner.token });
    const ownerSees = asOwner.body.users as Array<Record<string, unknown>>;
    expect(ownerSees.map((u) => u.username)).toEqual([
      `${t}_admin`,
      `${t}_admin2`,
      `${t}_owner`,
      `${t}_owner2`,
      `${t}_user`,
    ]);
    for (const u of ownerSees) expect(u).toHaveProperty('permission_level');

    const asUser = await api(server, 'GET', `/users/search?q=${t}`, { token: user.token });
    const userSees = asUser.body.users as Array<Record<string, unknown>>;
    expect(userSees).toHaveLength(5);
    for (const u of userSees) for (const field of ADMIN_ONLY_FIELDS) expect(u).not.toHaveProperty(field);
    expect(userSees.find((u) => u.username === `${t}_owner`)?.is_admin).toBe(true);
  });

  it('treats LIKE wildcards and backslashes in q literally', async () => {
    const t = tag();
    const me = await signedIn({ username: `${t}_a1` });
    await signedIn({ username: `${t}Xa1` });
    const pct = await signedIn({ username: `${t}_pct` });
    await db()
      .update(users)
      .set({ nickname: `${t} 100% sure` })
      .where(eq(users.id, pct.user.id));

    const search = async (q: string) => {
      const res = await api(server, 'GET', `/users/search?q=${encodeURIComponent(q)}`, { token: me.token });
      expect(res.status).toBe(200);
      return (res.body.users as Array<{ username: string }>).map((u) => u.username);
    };
    expect(await search(`${t}_a`)).toEqual([`${t}_a1`]);
    expect(await search(`${t}%a1`)).toEqual([]);
    expect(await search(`100%`)).toEqual([`${t}_pct`]);
    expect(await search(`${t}\\`)).toEqual([]);
    expect(await search(`' OR '1'='1`)).toEqual([]);
  });

  it('validates q, limit and offset', async () => {
    const me = await signedIn();
    const q = (query: string) => api(server, 'GET', `/users/search${query}`, { token: me.token });
    await expectError(q(''), 400, 'q is required');
    await expectError(q('?q='), 400, 'q is required');
    await expectError(q('?q=%20%20'), 400, 'q is required');
    await expectError(q(`?q=${'a'.repeat(101)}`), 400, 'q must be at most 100 characters');
    await expectError(q('?q=a&limit=101'), 400, 'limit must be at most 100');
    await expectError(q('?q=a&limit=ten'), 400, 'limit must be a number');
    await expectError(q('?q=a&offset=-1'), 400, 'offset must be at least 0');
  });
});

describe('GET /api/chat/users/search', () => {
  it('returns id, username and nickname only, at most 20', async () => {
    const t = tag();
    const me = await signedIn({ username: `${t}_me` });
    await db().update(users).set({ nickname: 'Ali' }).where(eq(users.id, me.user.id));
    // Password-less accounts: no KDF work, the search does not care.
    for (let i = 0; i < 21; i++) await createUser(db(), { username: `${t}_${String(i).padStart(2, '0')}` });

    const res = await api(server, 'GET', `/api/chat/users/search?q=${t.toUpperCase()}`, { token: me.token });
    expect(res.status).toBe(200);
    const found = res.body.users as Array<Record<string, unknown>>;
    expect(found).toHaveLength(20);
    for (const u of found) expect(Object.keys(u).sort()).toEqual(['id', 'nickname', 'username']);

    const byNick = await api(server, 'GET', '/api/chat/users/search?q=ali', { token: me.token });
    expect(byNick.body.users).toContainEqual({ id: me.user.id, username: `${t}_me`, nickname: 'Ali' });
    await expectError(
      api(server, 'GET', '/api/chat/users/search', { token: me.token }),
      400,
      'q is required',
    );
  });
});

describe('preferences', () => {
  it('PUT /api/me/status sets, keeps and clears the status message', async () => {
    const me = await signedIn();
    const put = (body: unknown) => api(server, 'PUT', '/api/me/status', { token: me.token, body });
    const set = await put({ status: 'dnd', status_message: '  In a meeting  ' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ id: me.user.id, status: 'dnd', status_message: 'In a meeting' });
    expect(set.body).toHaveProperty('scopes');
    const kept = await put({ status: 'away' });
    expect(kept.body).toMatchObject({ status: 'away', status_message: 'In a meeting' });
    const cleared = await put({ status: 'online', status_message: null });
    expect(cleared.body).toMatchObject({ status: 'online', status_message: null });
    const profile = await api(server, 'GET', `/users/${me.user.id}`);
    expect(profile.body).toMatchObject({ status: 'online', status_message: null });

    await expectError(put({}), 400, 'status is required');
    await expectError(
      put({ status: 'sleeping' }),
      400,
      'status must be one of online, away, busy, dnd, offline',
    );
    await expectError(
      put({ status: 'busy', status_message: 'x'.repeat(101) }),
      400,
      'status_message must be at most 100 characters',
    );
    expect((await put({ status: 'busy', status_message: 'x'.repeat(100) })).status).toBe(200);
  });

  it('PUT /api/me/nickname validates and clears', async () => {
    const me = await signedIn();
    const put = (body: unknown) => api(server, 'PUT', '/api/me/nickname', { token: me.token, body });
    const set = await put({ nickname: ' Ali-Baba 2 ' });
    expect(set.status).toBe(200);
    expect(set.body.nickname).toBe('Ali-Baba 2');
    expect((await put({ nickname: 'Zoë' })).body.nickname).toBe('Zoë');

    await expectError(put({ nickname: 'a' }), 400, 'nickname must be at least 2 characters');
    await expectError(put({ nickname: 'a'.repeat(33) }), 400, 'nickname must be at most 32 characters');
    await expectError(put({ nickname: 'bad_name' }), 400, 'nickname contains invalid characters');
    await expectError(put({ nickname: '<script>' }), 400, 'nickname contains invalid characters');
    await expectError(put({}), 400, 'nickname is required');
    await expectError(put({ nickname: 42 }), 400, 'nickname must be a string');
    expect((await api(server, 'GET', '/users/me', { token: me.token })).body.nickname).toBe('Zoë');

    const cleared = await put({ nickname: '' });
    expect(cleared.status).toBe(200);
    expect(cleared.body.nickname).toBeNull();
  });

  it('PUT /api/me/avatar validates color, emoji and initials, and keeps omitted fields', async () => {
    const me = await signedIn();
    const put = (body: unknown) => api(server, 'PUT', '/api/me/avatar', { token: me.token, body });
    const set = await put({ color: '#A1b2C3', emoji: '🦊', initials: 'AB' });
    expect(set.status).toBe(200);
    expect(set.body.avatar).toEqual({ color: '#A1b2C3', emoji: '🦊', initials: 'AB' });

    const partial = await put({ emoji: null });
    expect(partial.body.avatar).toEqual({ color: '#A1b2C3', emoji: null, initials: 'AB' });
    for (const emoji of ['🇫🇷', '👨‍👩‍👧', '1️⃣', '👍🏽']) {
      const res = await put({ emoji });
      expect(res.status, emoji).toBe(200);
      expect((res.body.avatar as { emoji: string }).emoji).toBe(emoji);
    }

    await expectError(put({ color: 'red' }), 400, 'color contains invalid characters');
    await expectError(put({ color: '#12345G' }), 400, 'color contains invalid characters');
    await expectError(put({ color: '#1234567' }), 400, 'color contains invalid characters');
    await expectError(put({ emoji: 'ab' }), 400, 'emoji must be a single emoji');
    await expectError(put({ emoji: '😀😀' }), 400, 'emoji must be a single emoji');
    // Lengths count code points, as zod does: 17 thumbs are 34 UTF-16 units.
    await expectError(put({ emoji: '👍'.repeat(17) }), 400, 'emoji must be at most 16 characters');
    await expectError(put({ color: 123456 }), 400, 'color must be a string');
    await expectError(put({ initials: 'ABC' }), 400, 'initials must be at most 2 characters');
    await expectError(put({ initials: '' }), 400, 'initials is required');
    await expectError(put({ initials: 'A!' }), 400, 'initials contains invalid characters');
    expect((await api(server, 'GET', '/users/me', { token: me.token })).body.avatar).toEqual({
      color: '#A1b2C3',
      emoji: '👍🏽',
      initials: 'AB',
    });
  });

  it('PUT /api/me/anonymous takes a real boolean only', async () => {
    const me = await signedIn();
    const put = (body: unknown) => api(server, 'PUT', '/api/me/anonymous', { token: me.token, body });
    const on = await put({ anonymous: true });
    expect(on.status).toBe(200);
    expect(on.body.anonymous).toBe(true);
    await expectError(put({}), 400, 'anonymous is required');
    await expectError(put({ anonymous: 'false' }), 400, 'anonymous must be a boolean');
    expect((await api(server, 'GET', '/api/me', { token: me.token })).body.anonymous).toBe(true);
    expect((await put({ anonymous: false })).body.anonymous).toBe(false);
  });
});

describe('blocking', () => {
  it('blocks idempotently, lists, unblocks, and is visible both ways to isBlockedEitherWay', async () => {
    const me = await signedIn();
    const bob = await signedIn();
    const carol = await signedIn();
    const post = (id: number) => api(server, 'POST', `/api/blocks/${id}`, { token: me.token, body: {} });

    expect((await post(bob.user.id)).body).toEqual({ success: true });
    const first = await api(server, 'GET', '/api/blocks', { token: me.token });
    expect((await post(bob.user.id)).body).toEqual({ success: true });
    expect((await post(carol.user.id)).status).toBe(200);

    const list = await api(server, 'GET', '/api/blocks', { token: me.token });
    expect(list.status).toBe(200);
    const blocked = list.body.blocked_users as Array<Record<string, unknown>>;
    expect(blocked.map((b) => b.id)).toEqual([carol.user.id, bob.user.id]);
    expect(blocked[1]).toEqual({
      id: bob.user.id,
      username: bob.username,
      blocked_at: expect.stringMatching(ISO),
    });
    // Blocking twice kept the first block's time.
    expect(blocked[1]!.blocked_at).toBe(
      (first.body.blocked_users as Array<{ blocked_at: string }>)[0]!.blocked_at,
    );
    expect((await api(server, 'GET', '/api/blocks', { token: bob.token })).body).toEqual({
      blocked_users: [],
    });

    expect(await isBlockedEitherWay(db(), me.user.id, bob.user.id)).toBe(true);
    expect(await isBlockedEitherWay(db(), bob.user.id, me.user.id)).toBe(true);
    expect(await isBlockedEitherWay(db(), bob.user.id, carol.user.id)).toBe(false);

    const del = await api(server, 'DELETE', `/api/blocks/${bob.user.id}`, { token: me.token });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ success: true });
    expect(await isBlockedEitherWay(db(), bob.user.id, me.user.id)).toBe(false);
    await expectError(
      api(server, 'DELETE', `/api/blocks/${bob.user.id}`, { token: me.token }),
      404,
      'Block not found',
    );
    const after = await api(server, 'GET', '/api/blocks', { token: me.token });
    expect((after.body.blocked_users as Array<{ id: number }>).map((b) => b.id)).toEqual([carol.user.id]);
  });

  it('refuses blocking yourself and unknown users', async () => {
    const me = await signedIn();
    await expectError(
      api(server, 'POST', `/api/blocks/${me.user.id}`, { token: me.token, body: {} }),
      400,
      'You cannot block yourself',
    );
    await expectError(
      api(server, 'POST', '/api/blocks/987654', { token: me.token, body: {} }),
      404,
      'User not found',
    );
    await expectError(
      api(server, 'POST', '/api/blocks/abc', { token: me.token, body: {} }),
      400,
      'user_id must be a number',
    );
  });
});

describe('announcements', () => {
  it('GET /announcements lists only the active ones, newest first', async () => {
    const me = await signedIn();
    const title = tag();
    await createAnnouncement(db(), {
      title: `${title} old`,
      message: 'gone',
      createdBy: null,
      expiresAt: new Date(Date.now() - 1000),
    });
    await createAnnouncement(db(), {
      title: `${title} a`,
      message: 'hello',
      createdBy: null,
      expiresAt: null,
    });
    const expiresAt = new Date(Date.now() + 86_400_000);
    await createAnnouncement(db(), { title: `${title} b`, message: 'soon', createdBy: null, expiresAt });

    const res = await api(server, 'GET', '/announcements', { token: me.token });
    expect(res.status).toBe(200);
    const mine = (res.body.announcements as Array<Record<string, unknown>>).filter((a) =>
      String(a.title).startsWith(title),
    );
    expect(mine.map((a) => a.title)).toEqual([`${title} b`, `${title} a`]);
    expect(mine[0]).toEqual({
      id: expect.any(Number),
      title: `${title} b`,
      message: 'soon',
      created_at: expect.stringMatching(ISO),
      expires_at: expiresAt.toISOString(),
    });
  });
});

describe('user states and API-key scopes', () => {
  it('a timed-out user can read but gets the structured 403 on changes', async () => {
    const me = await signedIn();
    const until = new Date(Date.now() + 3_600_000);
    await db()
      .update(users)
      .set({ state: 1, stateExpiresAt: until, stateReason: 'Spamming in chat' })
      .where(eq(users.id, me.user.id));

    const body = await expectError(
      api(server, 'PUT', '/api/me/status', { token: me.token, body: { status: 'away' } }),
      403,
      'Your account is temporarily restricted',
    );
    expect(body.reason).toBe('Spamming in chat');
    expect(body.expires_at).toBe(until.toISOString());
    await expectError(
      api(server, 'POST', '/api/blocks/1', { token: me.token, body: {} }),
      403,
      'Your account is temporarily restricted',
    );

    const read = await api(server, 'GET', '/users/me', { token: me.token });
    expect(read.status).toBe(200);
    expect(read.body.state).toBe(1);
    expect(read.body.status).toBe('online');
  });

  it('a banned user gets 403 "Your account has been banned"', async () => {
    const me = await signedIn();
    await db().update(users).set({ state: 2, stateReason: 'Abuse' }).where(eq(users.id, me.user.id));
    const body = await expectError(
      api(server, 'GET', '/users/me', { token: me.token }),
      403,
      'Your account has been banned',
    );
    expect(body.reason).toBe('Abuse');
  });

  it('an API key reaches the users group only within its scopes', async () => {
    const me = await signedIn();
    const readOnly = await createApiKey(db(), {
      userId: me.user.id,
      name: 'ro',
      scopes: 'users:read',
      expiresInDays: null,
    });
    const chats = await createApiKey(db(), {
      userId: me.user.id,
      name: 'chats',
      scopes: 'chats',
      expiresInDays: null,
    });
    const full = await createApiKey(db(), {
      userId: me.user.id,
      name: 'users',
      scopes: 'users',
      expiresInDays: null,
    });

    const read = await api(server, 'GET', '/users/me', { token: readOnly.key });
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(me.user.id);
    await expectError(
      api(server, 'PUT', '/api/me/status', { token: readOnly.key, body: { status: 'away' } }),
      403,
      'Access denied',
    );
    await expectError(api(server, 'GET', '/users/me', { token: chats.key }), 403, 'Access denied');
    const write = await api(server, 'PUT', '/api/me/status', { token: full.key, body: { status: 'away' } });
    expect(write.status).toBe(200);
    expect(write.body.status).toBe('away');
  });
});

describe('REST surface', () => {
  it('documents every users path in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/users/me',
        '/api/me',
        '/users/me/subscription',
        '/users/me/punishments',
        '/users/search',
        '/users/{id}',
        '/api/me/status',
        '/api/me/nickname',
        '/api/me/avatar',
        '/api/me/anonymous',
        '/api/chat/users/search',
        '/api/blocks',
        '/api/blocks/{user_id}',
        '/announcements',
      ]),
    );
    expect(doc.paths['/users/{id}']?.get?.security ?? []).toEqual([]);
    expect(doc.paths['/users/me']?.get?.security?.length).toBeGreaterThan(0);
  });
});
