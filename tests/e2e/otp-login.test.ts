import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loginRequests, users } from '../../src/db/schema';
import { currentTotp, newTotpSecret } from '../../src/services/auth/totp';
import { api, makeBot, makeUser, uniqueName } from '../helpers/identity';
import { startTestServer, type TestServer } from '../helpers/server';

// OTP login over real HTTP (API.md §1 "OTP login", §2 bot login-code delivery and POST /bot/users).

const generous = { RATE_LIMIT_LOGIN: '100000', RATE_LIMIT_BOT: '100000', RATE_LIMIT_AUTH: '100000' };
const PENDING_CAP = 'Too many pending login requests. Please wait for existing codes to expire.';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: generous });
});
afterAll(() => server?.close());

const db = () => server.deps.database.db;

// Every request comes from 127.0.0.1, which may hold 5 pending codes: each test starts with none
// (the cap itself is tested on a server of its own).
beforeEach(async () => {
  await db()
    .update(loginRequests)
    .set({ expiresAt: new Date(Date.now() - 1000) })
    .where(inArray(loginRequests.status, ['pending', 'delivered']));
});

type LoginCode = {
  request_id: string;
  user_id: number;
  platform_user_id: string;
  username: string;
  code: string;
  expires_at: string;
};

async function newBot(s: TestServer = server) {
  const { bot, apiKey } = await makeBot(s);
  return { bot, headers: { 'x-api-key': apiKey } };
}

type BotHandle = Awaited<ReturnType<typeof newBot>>;

async function linkUser(bot: BotHandle, username = uniqueName(), platformUserId = uniqueName('p')) {
  const res = await api(server, 'POST', '/bot/users', {
    headers: bot.headers,
    body: { platform_user_id: platformUserId, username },
  });
  expect(res.status).toBe(200);
  const user = res.body.user as { id: number; username: string };
  return { userId: user.id, username, platformUserId };
}

async function requestCode(username: string, s: TestServer = server) {
  const res = await api(s, 'POST', '/auth/request', { body: { username } });
  return res;
}

async function pickup(bot: BotHandle) {
  const res = await api(server, 'GET', '/bot/login-codes', { headers: bot.headers });
  expect(res.status).toBe(200);
  return (res.body as unknown as { codes: LoginCode[] }).codes;
}

/** A linked user with a fresh request whose code the bot has picked up. */
async function pendingLogin() {
  const bot = await newBot();
  const linked = await linkUser(bot);
  const req = await requestCode(linked.username);
  expect(req.status).toBe(200);
  const requestId = String(req.body.request_id);
  const code = (await pickup(bot)).find((c) => c.request_id === requestId)?.code;
  expect(code).toMatch(/^\d{6}$/);
  return { bot, ...linked, requestId, code: code! };
}

const verify = (body: Record<string, unknown>) => api(server, 'POST', '/auth/verify', { body });
const lookup = (requestId: string) => api(server, 'GET', `/auth/lookup/${requestId}`);
const wrongCodeFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('the full OTP flow', () => {
  it('request → bot links, fetches, delivers → lookup → verify → session → logout', async () => {
    const bot = await newBot();
    const username = uniqueName();
    const link = await api(server, 'POST', '/bot/users', {
      headers: bot.headers,
      body: { platform_user_id: 'discord:1234', username },
    });
    expect(link.status).toBe(200);
    expect(link.body.created).toBe(true);
    const userId = (link.body.user as { id: number }).id;

    const req = await requestCode(username);
    expect(req.status).toBe(200);
    expect(Object.keys(req.body).sort()).toEqual(['expires_at', 'request_id']);
    const requestId = String(req.body.request_id);
    const ttlSeconds = (Date.parse(String(req.body.expires_at)) - Date.now()) / 1000;
    expect(ttlSeconds).toBeGreaterThan(290);
    expect(ttlSeconds).toBeLessThanOrEqual(300);

    expect((await lookup(requestId)).body).toEqual({ status: 'pending', delivered_via: null });

    const codes = await pickup(bot);
    const mine = codes.find((c) => c.request_id === requestId);
    expect(mine).toMatchObject({ user_id: userId, platform_user_id: 'discord:1234', username });
    expect(mine!.code).toMatch(/^\d{6}$/);
    expect(mine!.expires_at).toBe(req.body.expires_at);

    const ack = await api(server, 'POST', `/bot/login-codes/${requestId}/delivered`, {
      headers: bot.headers,
    });
    expect(ack.status).toBe(200);
    expect(ack.body).toEqual({ success: true });
    // Delivered codes are no longer handed out.
    expect((await pickup(bot)).some((c) => c.request_id === requestId)).toBe(false);
    expect((await lookup(requestId)).body).toEqual({ status: 'delivered', delivered_via: bot.bot.name });

    const res = await verify({ request_id: requestId, code: mine!.code });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ id: userId, username, totp_enabled: false, permission_level: 0 });
    const token = String(res.body.token);
    expect(token.length).toBeGreaterThan(20);
    const ttlDays = (Date.parse(String(res.body.expires_at)) - Date.now()) / 86_400_000;
    expect(ttlDays).toBeGreaterThan(29.9);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toContain(`portal_session=${token};`);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    expect((await lookup(requestId)).body).toEqual({ status: 'used', delivered_via: bot.bot.name });

    const me = await api(server, 'GET', '/users/me', { token });
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(username);

    const out = await api(server, 'POST', '/auth/logout', { token });
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ success: true });
    expect(out.headers.get('set-cookie')).toMatch(/^portal_session=;.*Expires=Thu, 01 Jan 1970/);
    const after = await api(server, 'GET', '/users/me', { token });
    expect(after.status).toBe(401);
    expect((await api(server, 'POST', '/auth/logout', { token })).status).toBe(401);
  });

  it('does not store the code in plaintext', async () => {
    const bot = await newBot();
    const { username } = await linkUser(bot);
    const req = await requestCode(username);
    const requestId = String(req.body.request_id);
    const code = (await pickup(bot)).find((c) => c.request_id === requestId)!.code;
    const [row] = await db().select().from(loginRequests).where(eq(loginRequests.id, requestId));
    expect(row!.codeHash).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.codeHash).not.toContain(code);
    expect(row!.codeEncrypted).toMatch(/^v1\./);
    expect(row!.codeEncrypted).not.toContain(code);
    expect(server.deps.secretBox.decrypt(row!.codeEncrypted!)).toBe(code);
    expect(row!.ipHash).not.toContain('127.0.0.1');
    // Delivery wipes the encrypted copy; only the HMAC stays for verification.
    await api(server, 'POST', `/bot/login-codes/${requestId}/delivered`, { headers: bot.headers });
    const [delivered] = await db().select().from(loginRequests).where(eq(loginRequests.id, requestId));
    expect(delivered!.codeEncrypted).toBeNull();
  });

  it('a logout with an API key (no session) is a 400', async () => {
    const { requestId, code } = await pendingLogin();
    const token = String((await verify({ request_id: requestId, code })).body.token);
    const key = await api(server, 'POST', '/api/keys', { token, body: { name: 'cli' } });
    expect(key.status).toBe(200);
    const res = await api(server, 'POST', '/auth/logout', { token: String(key.body.api_key) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('Not signed in with a session');
  });
});

describe('POST /auth/verify failures', () => {
  it('a wrong code is 401 "Invalid code" and counts an attempt; the right code still works', async () => {
    const { requestId, code } = await pendingLogin();
    const wrong = await verify({ request_id: requestId, code: wrongCodeFor(code) });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('Invalid code');
    const [row] = await db().select().from(loginRequests).where(eq(loginRequests.id, requestId));
    expect(row!.attempts).toBe(1);
    expect((await verify({ request_id: requestId, code })).status).toBe(200);
  });

  it('5 wrong codes burn the request; then even the right code fails', async () => {
    const { requestId, code } = await pendingLogin();
    for (let i = 0; i < 5; i++) {
      const res = await verify({ request_id: requestId, code: wrongCodeFor(code) });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('Invalid code');
    }
    const right = await verify({ request_id: requestId, code });
    expect(right.status).toBe(401);
    expect(right.body.error).toBe('Login request expired');
    expect((await lookup(requestId)).body.status).toBe('expired');
    const [row] = await db().select().from(loginRequests).where(eq(loginRequests.id, requestId));
    expect(row!.status).toBe('burned');
    expect(row!.codeEncrypted).toBeNull();
  });

  it('concurrent wrong guesses cannot exceed the attempt limit', async () => {
    const { requestId, code } = await pendingLogin();
    const guesses = await Promise.all(
      Array.from({ length: 8 }, () => verify({ request_id: requestId, code: wrongCodeFor(code) })),
    );
    expect(guesses.every((g) => g.status === 401)).toBe(true);
    expect(guesses.filter((g) => g.body.error === 'Invalid code')).toHaveLength(5);
    expect(guesses.filter((g) => g.body.error === 'Login request expired')).toHaveLength(3);
    expect((await verify({ request_id: requestId, code })).body.error).toBe('Login request expired');
  });

  it('an expired code is 401 "Login request expired" and is no longer handed to bots', async () => {
    const { bot, requestId, code } = await pendingLogin();
    await db()
      .update(loginRequests)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(loginRequests.id, requestId));
    const res = await verify({ request_id: requestId, code });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('Login request expired');
    expect((await lookup(requestId)).body).toEqual({ status: 'expired', delivered_via: null });
    expect((await pickup(bot)).some((c) => c.request_id === requestId)).toBe(false);
    const ack = await api(server, 'POST', `/bot/login-codes/${requestId}/delivered`, {
      headers: bot.headers,
    });
    expect(ack.status).toBe(409);
    expect(ack.body.error).toBe('Login request expired');
  });

  it('a code works once: reuse is 401 "Login request already used", also when raced', async () => {
    const { requestId, code } = await pendingLogin();
    const [a, b] = await Promise.all([
      verify({ request_id: requestId, code }),
      verify({ request_id: requestId, code }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 401]);
    expect([a, b].find((r) => r.status === 401)!.body.error).toBe('Login request already used');
    const again = await verify({ request_id: requestId, code });
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('Login request already used');
  });

  it('an unknown request id answers like a wrong code; lookup says 404', async () => {
    const res = await verify({ request_id: 'no-such-request', code: '123456' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('Invalid code');
    const look = await lookup('no-such-request');
    expect(look.status).toBe(404);
    expect(look.body.error).toBe('Login request not found');
  });

  it('validates input: code is required', async () => {
    const res = await verify({ request_id: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('code is required');
  });

  it('a banned user may request (same answer) but verify is the structured 403', async () => {
    const { requestId, code, userId, username } = await pendingLogin();
    await db()
      .update(users)
      .set({ state: 2, stateReason: 'Terms of service violation' })
      .where(eq(users.id, userId));
    const again = await requestCode(username);
    expect(again.status).toBe(200);
    expect(Object.keys(again.body).sort()).toEqual(['expires_at', 'request_id']);
    const res = await verify({ request_id: requestId, code });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      error: 'Your account has been banned',
      reason: 'Terms of service violation',
    });
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('a TOTP user needs totp_code too; without it the request stays usable', async () => {
    const { requestId, code, userId } = await pendingLogin();
    const secret = newTotpSecret();
    await db()
      .update(users)
      .set({ totpEnabled: true, totpSecret: server.deps.secretBox.encrypt(secret) })
      .where(eq(users.id, userId));
    const without = await verify({ request_id: requestId, code });
    expect(without.status).toBe(401);
    expect(without.body.error).toBe('Two-factor code required');
    expect(without.headers.get('set-cookie')).toBeNull();
    // No second factor was guessed, so the attempt is given back.
    const [row] = await db().select().from(loginRequests).where(eq(loginRequests.id, requestId));
    expect(row!.attempts).toBe(0);
    const accepted = [-30_000, 0, 30_000].map((d) => currentTotp(secret, Date.now() + d));
    const notTotp = ['000000', '111111', '222222', '333333'].find((c) => !accepted.includes(c))!;
    const wrongTotp = await verify({ request_id: requestId, code, totp_code: notTotp });
    expect(wrongTotp.status).toBe(401);
    expect(wrongTotp.body.error).toBe('Invalid two-factor code');
    const withIt = await verify({ request_id: requestId, code, totp_code: currentTotp(secret) });
    expect(withIt.status).toBe(200);
    expect((withIt.body.user as { totp_enabled: boolean }).totp_enabled).toBe(true);
  });
});

describe('no user enumeration', () => {
  it('an unknown username gets the same answer and its code never reaches any bot', async () => {
    const bot = await newBot();
    const { username } = await linkUser(bot);
    const known = await requestCode(username);
    const unknown = await requestCode(uniqueName('ghost'));
    expect(unknown.status).toBe(known.status);
    expect(Object.keys(unknown.body).sort()).toEqual(Object.keys(known.body).sort());
    expect(String(unknown.body.request_id)).toHaveLength(String(known.body.request_id).length);
    const ghostId = String(unknown.body.request_id);
    expect((await lookup(ghostId)).body).toEqual({ status: 'pending', delivered_via: null });
    for (const b of [bot, await newBot()]) {
      expect((await pickup(b)).some((c) => c.request_id === ghostId)).toBe(false);
      const ack = await api(server, 'POST', `/bot/login-codes/${ghostId}/delivered`, { headers: b.headers });
      expect(ack.status).toBe(404);
      expect(ack.body.error).toBe('Login request not found');
    }
    const [row] = await db().select().from(loginRequests).where(eq(loginRequests.id, ghostId));
    expect(row!.userId).toBeNull();
  });
});

describe('bot login-code delivery', () => {
  it('a bot sees and acknowledges only codes of users linked to it', async () => {
    const mine = await newBot();
    const other = await newBot();
    const { username } = await linkUser(mine);
    // A user who exists but is linked to no bot.
    const { username: unlinked } = await makeUser(server);
    const requestId = String((await requestCode(username)).body.request_id);
    const strayId = String((await requestCode(unlinked)).body.request_id);

    expect((await pickup(other)).some((c) => c.request_id === requestId)).toBe(false);
    for (const b of [mine, other])
      expect((await pickup(b)).some((c) => c.request_id === strayId)).toBe(false);

    const refused = await api(server, 'POST', `/bot/login-codes/${requestId}/delivered`, {
      headers: other.headers,
    });
    expect(refused.status).toBe(404);
    expect(refused.body.error).toBe('Login request not found');
    expect((await lookup(requestId)).body.status).toBe('pending');

    const ack = await api(server, 'POST', `/bot/login-codes/${requestId}/delivered`, {
      headers: mine.headers,
    });
    expect(ack.status).toBe(200);
    // Acknowledging twice is harmless.
    const twice = await api(server, 'POST', `/bot/login-codes/${requestId}/delivered`, {
      headers: mine.headers,
    });
    expect(twice.status).toBe(200);
    expect(twice.body).toEqual({ success: true });
    const [row] = await db().select().from(loginRequests).where(eq(loginRequests.id, requestId));
    expect(row).toMatchObject({
      status: 'delivered',
      deliveredVia: mine.bot.name,
      deliveredByBotId: mine.bot.id,
    });
  });

  it('an unknown request id is 404', async () => {
    const bot = await newBot();
    const res = await api(server, 'POST', '/bot/login-codes/nope/delivered', { headers: bot.headers });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('Login request not found');
  });

  it('refuses an invalid X-API-Key with 401, and a missing one too', async () => {
    const bad = await api(server, 'GET', '/bot/login-codes', {
      headers: { 'x-api-key': 'pbot_not-a-real-key' },
    });
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('Invalid API key');
    const none = await api(server, 'GET', '/bot/login-codes');
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('Authentication required');
    const linkBad = await api(server, 'POST', '/bot/users', {
      headers: { 'x-api-key': 'pbot_not-a-real-key' },
      body: { platform_user_id: '1', username: uniqueName() },
    });
    expect(linkBad.status).toBe(401);
  });

  it('a signed-in user is not a bot', async () => {
    const { requestId, code } = await pendingLogin();
    const token = String((await verify({ request_id: requestId, code })).body.token);
    const res = await api(server, 'GET', '/bot/login-codes', { token });
    expect(res.status).toBe(401);
  });
});

describe('POST /bot/users', () => {
  it('creates a linked user once, then returns the same user', async () => {
    const bot = await newBot();
    const username = uniqueName();
    const first = await api(server, 'POST', '/bot/users', {
      headers: bot.headers,
      body: { platform_user_id: 'u-42', username, avatar: '🚀' },
    });
    expect(first.status).toBe(200);
    expect(first.body.created).toBe(true);
    const user = first.body.user as { id: number; username: string; avatar: { emoji: string | null } };
    expect(user.username).toBe(username);
    expect(user.avatar.emoji).toBe('🚀');
    expect(Object.keys(user)).not.toContain('permission_level');

    const second = await api(server, 'POST', '/bot/users', {
      headers: bot.headers,
      body: { platform_user_id: 'u-42', username: uniqueName() },
    });
    expect(second.status).toBe(200);
    expect(second.body.created).toBe(false);
    expect((second.body.user as { id: number }).id).toBe(user.id);
    const [row] = await db().select().from(users).where(eq(users.id, user.id));
    expect(row!.passwordHash).toBeNull();
  });

  it('the same platform id on another bot is another identity', async () => {
    const a = await newBot();
    const b = await newBot();
    const onA = await linkUser(a, uniqueName(), 'shared-id');
    const onB = await linkUser(b, uniqueName(), 'shared-id');
    expect(onA.userId).not.toBe(onB.userId);
  });

  it('never claims an existing account by its username (409)', async () => {
    const bot = await newBot();
    const { username } = await makeUser(server);
    const res = await api(server, 'POST', '/bot/users', {
      headers: bot.headers,
      body: { platform_user_id: 'someone', username: username.toUpperCase() },
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('Username is already taken');
  });

  it('concurrent calls for one identity create one user', async () => {
    const bot = await newBot();
    const username = uniqueName();
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        api(server, 'POST', '/bot/users', {
          headers: bot.headers,
          body: { platform_user_id: 'race', username },
        }),
      ),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.body.created === true)).toHaveLength(1);
    expect(new Set(results.map((r) => (r.body.user as { id: number }).id)).size).toBe(1);
  });

  it('validates its input with the contract texts', async () => {
    const bot = await newBot();
    const post = (body: unknown) => api(server, 'POST', '/bot/users', { headers: bot.headers, body });
    expect((await post({ platform_user_id: 'x', username: 'ab' })).body.error).toBe(
      'username must be at least 3 characters',
    );
    expect((await post({ platform_user_id: '', username: uniqueName() })).body.error).toBe(
      'platform_user_id is required',
    );
    expect((await post({ platform_user_id: 'x'.repeat(129), username: uniqueName() })).body.error).toBe(
      'platform_user_id must be at most 128 characters',
    );
    const badAvatar = await post({ platform_user_id: 'x', username: uniqueName(), avatar: 'not an avatar' });
    expect(badAvatar.status).toBe(400);
    expect(badAvatar.body.error).toBe('avatar must be an http(s) URL or an emoji');
    const url = await post({
      platform_user_id: 'y',
      username: uniqueName(),
      avatar: 'https://cdn.example/a.png',
    });
    expect(url.status).toBe(200);
  });
});

describe('pending-code cap per IP', () => {
  it('the 6th pending code from one IP is a 429 with the seed 001 message', async () => {
    const fresh = await startTestServer({ env: generous });
    try {
      const { username } = await makeUser(fresh);
      for (let i = 0; i < 5; i++) {
        // Unknown usernames count as much as known ones.
        const res = await requestCode(i % 2 === 0 ? username : uniqueName('ghost'), fresh);
        expect(res.status).toBe(200);
      }
      const sixth = await requestCode(username, fresh);
      expect(sixth.status).toBe(429);
      expect(sixth.body.error).toBe(PENDING_CAP);
      expect(sixth.body.status).toBe(429);
      const retryAfter = Number(sixth.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(300);

      // Once a pending code expires, a new one may be requested.
      const [oldest] = await fresh.deps.database.db.select().from(loginRequests).limit(1);
      await fresh.deps.database.db
        .update(loginRequests)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(loginRequests.id, oldest!.id));
      expect((await requestCode(username, fresh)).status).toBe(200);
      expect((await requestCode(username, fresh)).status).toBe(429);

      // Concurrent requests cannot slip past the cap either.
      await fresh.deps.database.db.update(loginRequests).set({ expiresAt: new Date(Date.now() - 1000) });
      const burst = await Promise.all(Array.from({ length: 8 }, () => requestCode(username, fresh)));
      expect(burst.filter((r) => r.status === 200)).toHaveLength(5);
      expect(burst.filter((r) => r.status === 429)).toHaveLength(3);
    } finally {
      await fresh.close();
    }
  });
});
