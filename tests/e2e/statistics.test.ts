import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bots, botUserLinks, users } from '../../src/db/schema';
import { createSession } from '../../src/services/auth/sessions';
import { cachedValue } from '../../src/services/stats/cache';
import { createUser } from '../../src/services/users/accounts';
import { openChat } from '../helpers/chat-client';
import { api, makeBot, makeUser, uniqueName } from '../helpers/identity';
import { openPortal, portalUrl, waitFor } from '../helpers/portal-client';
import { startTestServer, type TestServer } from '../helpers/server';

// Statistics over real HTTP (API.md §3): the public /statistics/* figures against data made here,
// their short cache, and the live /api/stats read from Bus presence sets.

const generous = { RATE_LIMIT_PUBLIC: '100000', RATE_LIMIT_BOT: '100000', RATE_LIMIT_AUTH: '100000' };
const DAY_MS = 24 * 3_600_000;

type Json = Record<string, unknown>;

/** Field-by-field difference of two figure sets (numbers, and objects of numbers). */
function delta(after: Json, before: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(after)) {
    if (typeof value === 'number') out[key] = value - Number(before[key]);
    else if (value && typeof value === 'object' && !Array.isArray(value))
      out[key] = delta(value as Json, before[key] as Json);
  }
  return out;
}

describe('figures (cache off)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...generous, STATS_CACHE_SECONDS: '0' } });
  });
  afterAll(() => server?.close());
  const db = () => server.deps.database.db;

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await api(server, 'GET', path, { headers });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };

  async function report(apiKey: string, items: unknown[]) {
    const res = await api(server, 'POST', '/bot/batch', {
      headers: { 'x-api-key': apiKey },
      body: { items },
    });
    expect(res.body).toMatchObject({ accepted: items.length, rejected: 0 });
  }

  async function makeUserWith(set: Partial<typeof users.$inferInsert> = {}) {
    const user = await createUser(db(), { username: uniqueName() });
    if (Object.keys(set).length > 0) await db().update(users).set(set).where(eq(users.id, user.id));
    return user;
  }

  it('GET /statistics/users counts levels, tiers, states, new and active users', async () => {
    const before = await get('/statistics/users');
    const now = Date.now();
    const admin = await makeUserWith({ permissionLevel: 2 });
    const owner = await makeUserWith({ permissionLevel: 3 });
    const premium = await makeUserWith({
      subscriptionTier: 2,
      subscriptionExpiresAt: new Date(now + DAY_MS),
    });
    const lapsed = await makeUserWith({ subscriptionTier: 1, subscriptionExpiresAt: new Date(now - 1000) });
    await makeUserWith({ subscriptionTier: 1, subscriptionExpiresAt: new Date(now + DAY_MS) });
    await makeUserWith({ subscriptionTier: 3 });
    await makeUserWith({ state: 2 });
    await makeUserWith({ state: 1, stateExpiresAt: new Date(now + 3_600_000) });
    await makeUserWith({ state: 1, stateExpiresAt: new Date(now - 1000) });
    await makeUserWith({ createdAt: new Date(now - 3 * DAY_MS) });
    await makeUserWith({ createdAt: new Date(now - 10 * DAY_MS) });

    // Active: two sign-ins and one user seen through a bot today; one seen 2 days ago is not.
    for (const user of [admin, owner]) {
      await createSession(db(), server.deps.secretKey, { user, method: 'password' });
    }
    const { bot, apiKey } = await makeBot(server);
    await db()
      .insert(botUserLinks)
      .values([
        { botId: bot.id, userId: premium.id, platformUserId: 'p-premium' },
        { botId: bot.id, userId: lapsed.id, platformUserId: 'p-lapsed' },
      ]);
    await report(apiKey, [
      { command: 'daily', success: true, user_id: premium.id },
      { command: 'daily', success: true, platform_user_id: 'p-premium' },
      {
        command: 'daily',
        success: true,
        user_id: lapsed.id,
        executed_at: new Date(now - 2 * DAY_MS).toISOString(),
      },
    ]);

    const after = await get('/statistics/users');
    expect(delta(after, before)).toEqual({
      total: 11,
      active_24h: 3,
      new_24h: 9,
      new_7d: 10,
      by_level: { user: 9, admin: 1, owner: 1 },
      by_tier: { basic: 8, trial: 1, premium: 1, lifetime: 1 },
      banned: 1,
      timed_out: 1,
    });
    expect(Date.parse(String(after.generated_at))).toBeGreaterThanOrEqual(now);
  });

  it('GET /statistics/bots counts bots by type and commands of the last 24 hours', async () => {
    const before = await get('/statistics/bots');
    const made = [];
    for (const type of [1, 2, 2, 3]) {
      const { bot, apiKey } = await makeBot(server);
      await db().update(bots).set({ type }).where(eq(bots.id, bot.id));
      made.push(apiKey);
    }
    await report(made[0]!, [
      { command: 'a', success: true },
      { command: 'b', success: false, executed_at: new Date(Date.now() - DAY_MS + 60_000).toISOString() },
      { command: 'c', success: true, executed_at: new Date(Date.now() - DAY_MS - 60_000).toISOString() },
    ]);
    await report(made[3]!, [{ command: 'd', success: true }]);
    const after = await get('/statistics/bots');
    expect(delta(after, before)).toEqual({
      total: 4,
      by_type: { official: 1, verified: 2, community: 1 },
      commands_24h: 3,
    });
    expect(after.total).toBe(
      Object.values(after.by_type as Record<string, number>).reduce((sum, n) => sum + n, 0),
    );
  });

  it('GET /statistics/app sums up users, bots and commands per bot per UTC day', async () => {
    // Days are UTC: keep this test away from midnight so "today" stays one day throughout.
    const untilMidnight = DAY_MS - (Date.now() % DAY_MS);
    if (untilMidnight < 30_000) await sleep(untilMidnight + 2000);
    const before = await get('/statistics/app');
    const { bot, apiKey } = await makeBot(server);
    await makeUser(server);
    const now = Date.now();
    const todayStart = now - (now % DAY_MS);
    const at = (ms: number) => new Date(ms).toISOString();
    await report(apiKey, [
      { command: 'x', success: true, executed_at: at(todayStart + 1000) },
      { command: 'x', success: true, executed_at: at(todayStart + 2000) },
      { command: 'x', success: true, executed_at: at(todayStart - 2 * DAY_MS + 5000) },
      // The 7th day back is outside "today and the 6 before".
      { command: 'x', success: true, executed_at: at(todayStart - 6 * DAY_MS - 1000) },
    ]);
    const after = await get('/statistics/app');
    const users = await get('/statistics/users');
    const botFigures = await get('/statistics/bots');
    expect(after.users).toBe(users.total);
    expect(after.bots).toBe(botFigures.total);
    expect(after.commands_24h).toBe(botFigures.commands_24h);
    expect(delta(after, before)).toMatchObject({ users: 1, bots: 1, commands_total: 4, commands_24h: 2 });
    const day = (ms: number) => at(ms).slice(0, 10);
    const mine = (after.commands_per_bot_per_day as Json[]).filter((e) => e.bot_id === bot.id);
    expect(mine).toEqual([
      { bot_id: bot.id, name: bot.name, day: day(todayStart - 2 * DAY_MS), count: 1 },
      { bot_id: bot.id, name: bot.name, day: day(todayStart), count: 2 },
    ]);
    const days = (after.commands_per_bot_per_day as Json[]).map((e) => String(e.day));
    expect(days).toEqual([...days].sort());
    expect(after.version).toBe(server.deps.build.version);
    expect(after.uptime_seconds).toBeGreaterThanOrEqual(0);
    expect(after.uptime_seconds).toBeLessThan(3600);
  }, 90_000);

  it('needs no credentials, validates an X-API-Key when one is sent, and is PUBLIC tier', async () => {
    const anonymous = await api(server, 'GET', '/statistics/users');
    expect(anonymous.status).toBe(200);
    expect(anonymous.headers.get('x-ratelimit-limit')).toBe('100000');
    for (const path of ['/statistics/users', '/statistics/bots', '/statistics/app']) {
      const bad = await api(server, 'GET', path, { headers: { 'x-api-key': 'pbot_not-a-key' } });
      expect(bad.status).toBe(401);
      expect(bad.body).toMatchObject({ error: 'Invalid API key', status: 401 });
    }
    const { apiKey } = await makeBot(server);
    const withKey = await api(server, 'GET', '/statistics/users', { headers: { 'x-api-key': apiKey } });
    expect(withKey.status).toBe(200);
  });

  it('GET /api/stats needs a sign-in and counts live public streams and the online-users presence set', async () => {
    const unauthenticated = await api(server, 'GET', '/api/stats');
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.body.error).toBe('Authentication required');

    const { user } = await makeUser(server);
    const { token } = await createSession(db(), server.deps.secretKey, { user, method: 'password' });
    const read = async () => {
      const res = await api(server, 'GET', '/api/stats', { token });
      expect(res.status).toBe(200);
      return res.body;
    };
    expect(await read()).toEqual({ live_streams: 0, online_users: 0 });
    const bus = server.deps.bus;
    await bus.presenceAdd('online-users', String(user.id), 60_000);
    await bus.presenceAdd('online-users', 'another', 60_000);
    const made = async (is_public: boolean) =>
      (await api(server, 'POST', '/api/streams', { token, body: { title: 'stats', is_public } })).body;
    const live = async (key: unknown) =>
      expect(
        (await api(server, 'POST', '/api/mediamtx/ready', { body: { path: `live/${key}` } })).status,
      ).toBe(200);
    await live((await made(true)).stream_key);
    await live((await made(false)).stream_key); // private streams are not counted
    await made(true); // nor offline ones
    expect(await read()).toEqual({ live_streams: 1, online_users: 2 });
    await bus.presenceRemove('online-users', 'another');
    expect(await read()).toEqual({ live_streams: 1, online_users: 1 });
  });

  it('online_users counts users connected to /ws/chat or /ws/portal, once each', async () => {
    const reader = await makeUser(server);
    const { token: readerToken } = await createSession(db(), server.deps.secretKey, {
      user: reader.user,
      method: 'password',
    });
    const online = async () =>
      (await api(server, 'GET', '/api/stats', { token: readerToken })).body.online_users as number;
    const before = await online();
    const { user } = await makeUser(server);
    const { token } = await createSession(db(), server.deps.secretKey, { user, method: 'password' });
    const chat = await openChat(server, token);
    expect(await online()).toBe(before + 1);
    const portal = await openPortal(portalUrl(server, token));
    await portal.nextOf('ready');
    expect(await online()).toBe(before + 1);
    // Leaving chat keeps the user online through the portal socket, and the other way round.
    await chat.close();
    await sleep(200);
    expect(await online()).toBe(before + 1);
    await portal.close();
    await waitFor(async () => (await online()) === before, 'the user to go offline');
    const again = await openChat(server, token);
    expect(await online()).toBe(before + 1);
    await again.close();
    await waitFor(async () => (await online()) === before, 'the user to go offline again');
  });
});

describe('cache (STATS_CACHE_SECONDS=3)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...generous, STATS_CACHE_SECONDS: '3' } });
  });
  afterAll(() => server?.close());

  const get = async (path: string) => (await api(server, 'GET', path)).body;

  it('serves the same answer within the TTL and fresh figures after it', async () => {
    const first = await get('/statistics/users');
    const firstApp = await get('/statistics/app');
    await createUser(server.deps.database.db, { username: uniqueName() });
    await makeBot(server);
    expect(await get('/statistics/users')).toEqual(first);
    expect(await get('/statistics/app')).toEqual(firstApp);
    await sleep(3100);
    const later = await get('/statistics/users');
    expect(later.total).toBe(Number(first.total) + 1);
    expect(later.generated_at).not.toBe(first.generated_at);
    expect((await get('/statistics/app')).bots).toBe(Number(firstApp.bots) + 1);
  });

  it('answers a burst from one computation', async () => {
    await sleep(3100);
    const burst = await Promise.all(Array.from({ length: 20 }, () => get('/statistics/bots')));
    expect(new Set(burst.map((b) => JSON.stringify(b))).size).toBe(1);
  });
});

describe('cachedValue', () => {
  it('shares one computation between concurrent callers and keeps it for the TTL', async () => {
    let clock = 0;
    let runs = 0;
    const cached = cachedValue(
      10_000,
      async () => {
        runs += 1;
        await sleep(20);
        return { run: runs };
      },
      () => clock,
    );
    const burst = await Promise.all(Array.from({ length: 50 }, () => cached.get()));
    expect(runs).toBe(1);
    expect(new Set(burst).size).toBe(1);
    clock = 9_999;
    expect(await cached.get()).toBe(burst[0]);
    clock = 10_000;
    expect(await cached.get()).toEqual({ run: 2 });
  });

  it('with TTL 0 recomputes every call, and never keeps a failure', async () => {
    let runs = 0;
    const cached = cachedValue(0, async () => {
      runs += 1;
      if (runs === 2) throw new Error('database down');
      return runs;
    });
    expect(await cached.get()).toBe(1);
    await expect(cached.get()).rejects.toThrow('database down');
    expect(await cached.get()).toBe(3);
  });
});
