import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botCommands, bots } from '../../src/db/schema';
import { createSession } from '../../src/services/auth/sessions';
import { api, makeBot, makeUser, uniqueName } from '../helpers/identity';
import { startTestServer, type TestServer } from '../helpers/server';

// Bots over real HTTP (API.md §2): the public directory with its Admin+ detail, the bot API
// (own profile, stats, batch reports, linked users) and the bot's own hourly limit.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      RATE_LIMIT_PUBLIC: '100000',
      RATE_LIMIT_BOT: '100000',
      RATE_LIMIT_AUTH: '100000',
      // Every statistics call computes afresh, so batch reports show up at once.
      STATS_CACHE_SECONDS: '0',
    },
  });
});
afterAll(() => server?.close());

const db = () => server.deps.database.db;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const PUBLIC_FIELDS = ['avatar', 'created_at', 'description', 'id', 'name', 'stats', 'verified'];
const ADMIN_FIELDS = ['api_key_prefix', 'owner', 'platform', 'rate_limit_per_hour', 'type', 'updated_at'];
const tag = () => `b${randomBytes(4).toString('hex')}`;

async function signedIn(level = 0) {
  const made = await makeUser(server, { level });
  const { token } = await createSession(db(), server.deps.secretKey, { user: made.user, method: 'password' });
  return { ...made, token };
}

async function newBot(opts: { name?: string; rateLimitPerHour?: number } = {}) {
  const { bot, apiKey } = await makeBot(server, opts);
  return { bot, apiKey, headers: { 'x-api-key': apiKey } };
}

type Bot = Awaited<ReturnType<typeof newBot>>;

async function expectError(res: Promise<Awaited<ReturnType<typeof api>>>, status: number, error: string) {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body).toMatchObject({ error, status });
  return r;
}

async function linkUser(bot: Bot, username = uniqueName(), platformUserId = uniqueName('p')) {
  const res = await api(server, 'POST', '/bot/users', {
    headers: bot.headers,
    body: { platform_user_id: platformUserId, username },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { userId: (res.body.user as { id: number }).id, username, platformUserId };
}

describe('public bot directory', () => {
  let official: Bot;
  let community: Bot;
  let owner: Awaited<ReturnType<typeof signedIn>>;
  let user: Awaited<ReturnType<typeof signedIn>>;
  let admin: Awaited<ReturnType<typeof signedIn>>;

  beforeAll(async () => {
    owner = await signedIn();
    user = await signedIn();
    admin = await signedIn(2);
    official = await newBot({ rateLimitPerHour: 500 });
    community = await newBot();
    await db()
      .update(bots)
      .set({ type: 1, ownerUserId: owner.user.id, description: 'Runs the show', avatar: '🤖' })
      .where(eq(bots.id, official.bot.id));
  });

  it('shows anonymous callers, users and bots the public profile only', async () => {
    for (const auth of [{}, { token: user.token }, { headers: community.headers }]) {
      const res = await api(server, 'GET', `/bots/${official.bot.id}`, auth);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(PUBLIC_FIELDS);
      expect(res.body).toEqual({
        id: official.bot.id,
        name: official.bot.name,
        avatar: '🤖',
        description: 'Runs the show',
        verified: true,
        created_at: expect.stringMatching(ISO),
        stats: { users: null },
      });
    }
    const other = await api(server, 'GET', `/bots/${community.bot.id}`);
    expect(other.body.verified).toBe(false);
    expect(other.headers.get('x-ratelimit-limit')).toBe('100000');
  });

  it('shows Admin+ the owner, rate limit and type', async () => {
    const res = await api(server, 'GET', `/bots/${official.bot.id}`, { token: admin.token });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual([...PUBLIC_FIELDS, ...ADMIN_FIELDS].sort());
    expect(res.body).toMatchObject({
      type: 1,
      verified: true,
      owner: { id: owner.user.id, username: owner.username },
      rate_limit_per_hour: 500,
      platform: 'generic',
      api_key_prefix: official.apiKey.slice(0, 9),
      stats: { users: null, latency_ms: null },
      updated_at: expect.stringMatching(ISO),
    });
    const plain = await api(server, 'GET', `/bots/${community.bot.id}`, { token: admin.token });
    expect(plain.body).toMatchObject({ type: 3, owner: null, rate_limit_per_hour: 3600 });
  });

  it('answers 404 "Bot not found" and 400 for a malformed id', async () => {
    await expectError(api(server, 'GET', '/bots/999999'), 404, 'Bot not found');
    await expectError(api(server, 'GET', '/bots/abc'), 400, 'id must be a number');
    await expectError(api(server, 'GET', '/bots/99999999999'), 400, 'id must be at most 2147483647');
  });

  it('lists bots page by page, with the view of the caller', async () => {
    const first = await api(server, 'GET', '/bots?limit=1&offset=0');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ limit: 1, offset: 0 });
    expect(first.body.total).toBeGreaterThanOrEqual(2);
    const all = await api(server, 'GET', `/bots?limit=100`);
    const listed = all.body.bots as Array<Record<string, unknown>>;
    expect(listed.length).toBe(all.body.total);
    expect(listed.map((b) => b.id)).toEqual([...listed.map((b) => b.id as number)].sort((a, b) => a - b));
    expect((first.body.bots as unknown[])[0]).toEqual(listed[0]);
    const second = await api(server, 'GET', '/bots?limit=1&offset=1');
    expect((second.body.bots as unknown[])[0]).toEqual(listed[1]);
    for (const b of listed) expect(Object.keys(b).sort()).toEqual(PUBLIC_FIELDS);
    const asAdmin = await api(server, 'GET', '/bots?limit=100', { token: admin.token });
    const mine = (asAdmin.body.bots as Array<Record<string, unknown>>).find((b) => b.id === official.bot.id);
    expect(mine).toMatchObject({ type: 1, owner: { id: owner.user.id } });
    await expectError(api(server, 'GET', '/bots?limit=101'), 400, 'limit must be at most 100');
  });

  it('searches names case-insensitively, with LIKE wildcards taken literally', async () => {
    const t = tag();
    const names = [`${t} Alpha`, `${t} ALPHABET`, `${t}_50%off`, `${t}x50yoff`];
    const made: Bot[] = [];
    for (const name of names) made.push(await newBot({ name }));
    const search = async (q: string, auth: { token?: string } = {}) => {
      const res = await api(server, 'GET', `/bots/search?q=${encodeURIComponent(q)}`, auth);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as { bots: Array<Record<string, unknown>>; total: number };
    };
    const alpha = await search(`${t} alpha`);
    expect(alpha.bots.map((b) => b.name)).toEqual([`${t} Alpha`, `${t} ALPHABET`]);
    expect(alpha.total).toBe(2);
    expect(Object.keys(alpha.bots[0]!).sort()).toEqual(PUBLIC_FIELDS);
    expect((await search(`${t}_50%`)).bots.map((b) => b.name)).toEqual([`${t}_50%off`]);
    expect((await search(`${t.toUpperCase()}X50`)).bots.map((b) => b.name)).toEqual([`${t}x50yoff`]);
    const full = await search(`${t} alpha`, { token: admin.token });
    expect(full.bots[0]).toMatchObject({ type: 3, rate_limit_per_hour: 3600, owner: null });
    await expectError(api(server, 'GET', '/bots/search?q='), 400, 'q is required');
  });
});

describe('bot profile: GET /bot/me and POST /bot/me/update', () => {
  it('returns the full view of the calling bot', async () => {
    const bot = await newBot({ rateLimitPerHour: 1234 });
    const res = await api(server, 'GET', '/bot/me', { headers: bot.headers });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: bot.bot.id,
      name: bot.bot.name,
      type: 3,
      verified: false,
      owner: null,
      rate_limit_per_hour: 1234,
      api_key_prefix: bot.apiKey.slice(0, 9),
      stats: { users: null, latency_ms: null },
    });
  });

  it('needs a bot key', async () => {
    await expectError(api(server, 'GET', '/bot/me'), 401, 'Authentication required');
    const user = await signedIn(2);
    await expectError(api(server, 'GET', '/bot/me', { token: user.token }), 401, 'Authentication required');
    await expectError(
      api(server, 'GET', '/bot/me', { headers: { 'x-api-key': 'pbot_wrong' } }),
      401,
      'Invalid API key',
    );
  });

  it('updates info and stats in one call, merging stats reported separately', async () => {
    const bot = await newBot();
    const name = uniqueName('renamed');
    const first = await api(server, 'POST', '/bot/me/update', {
      headers: bot.headers,
      body: { name, avatar: 'https://example.com/bot.png', description: 'Helps out', stats: { users: 42 } },
    });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({
      name,
      avatar: 'https://example.com/bot.png',
      description: 'Helps out',
      stats: { users: 42, latency_ms: null },
    });
    const second = await api(server, 'POST', '/bot/me/update', {
      headers: bot.headers,
      body: { stats: { latency_ms: 12.5 } },
    });
    expect(second.body).toMatchObject({ name, stats: { users: 42, latency_ms: 12.5 } });
    const cleared = await api(server, 'POST', '/bot/me/update', {
      headers: bot.headers,
      body: { avatar: null, description: '' },
    });
    expect(cleared.body).toMatchObject({ name, avatar: null, description: null });
    // Latency is operator detail; the user count is public.
    const shown = await api(server, 'GET', `/bots/${bot.bot.id}`);
    expect(shown.body.stats).toEqual({ users: 42 });
    expect(Date.parse(String(cleared.body.updated_at))).toBeGreaterThanOrEqual(
      Date.parse(String(first.body.updated_at)),
    );
  });

  it('refuses an empty or invalid update with the first invalid field', async () => {
    const bot = await newBot();
    const update = (body: unknown) => api(server, 'POST', '/bot/me/update', { headers: bot.headers, body });
    await expectError(update({}), 400, 'At least one of name, avatar, description or stats is required');
    await expectError(update({ name: 'x'.repeat(51) }), 400, 'name must be at most 50 characters');
    await expectError(update({ name: '  ' }), 400, 'name is required');
    await expectError(update({ stats: {} }), 400, 'stats must include users or latency_ms');
    await expectError(update({ stats: { users: -1 } }), 400, 'stats.users must be at least 0');
    await expectError(update({ stats: { users: 1.5 } }), 400, 'stats.users must be an integer');
    await expectError(update({ stats: { latency_ms: '3' } }), 400, 'stats.latency_ms must be a number');
    await expectError(update({ avatar: 'not a picture' }), 400, 'avatar must be an http(s) URL or an emoji');
    const after = await api(server, 'GET', '/bot/me', { headers: bot.headers });
    expect(after.body.name).toBe(bot.bot.name);
  });
});

describe('POST /bot/batch', () => {
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

  it('stores the valid items, rejects the malformed ones item by item, and counts them', async () => {
    const bot = await newBot();
    const linked = await linkUser(bot);
    const before = await api(server, 'GET', '/statistics/bots');
    const appBefore = await api(server, 'GET', '/statistics/app');
    const executedAt = ago(60_000);
    const items = [
      { command: 'ping', success: true, latency_ms: 12.5, user_id: linked.userId },
      { command: 'Bad Command!', success: true },
      { command: 'help', success: false, platform_user_id: linked.platformUserId, executed_at: executedAt },
      { command: 'roll', latency_ms: 3 },
      { command: 'weather_now', success: true, platform_user_id: 'not-linked-yet' },
    ];
    const res = await api(server, 'POST', '/bot/batch', { headers: bot.headers, body: { items } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      accepted: 3,
      rejected: 2,
      results: [
        { index: 0, ok: true },
        { index: 1, ok: false, error: 'command contains invalid characters' },
        { index: 2, ok: true },
        { index: 3, ok: false, error: 'success is required' },
        { index: 4, ok: true },
      ],
    });

    const rows = await db().select().from(botCommands).where(eq(botCommands.botId, bot.bot.id));
    const byCommand = Object.fromEntries(rows.map((r) => [r.command, r]));
    expect(rows).toHaveLength(3);
    expect(byCommand.ping).toMatchObject({ userId: linked.userId, success: true, latencyMs: 12.5 });
    expect(byCommand.help).toMatchObject({
      userId: linked.userId,
      platformUserId: linked.platformUserId,
      success: false,
      latencyMs: null,
    });
    expect(byCommand.help!.executedAt.toISOString()).toBe(executedAt);
    expect(byCommand.weather_now).toMatchObject({ userId: null, platformUserId: 'not-linked-yet' });

    const after = await api(server, 'GET', '/statistics/bots');
    expect(Number(after.body.commands_24h) - Number(before.body.commands_24h)).toBe(3);
    const app = await api(server, 'GET', '/statistics/app');
    expect(Number(app.body.commands_total) - Number(appBefore.body.commands_total)).toBe(3);
    expect(Number(app.body.commands_24h) - Number(appBefore.body.commands_24h)).toBe(3);
    const days = new Map<string, number>();
    for (const r of rows) {
      const day = r.executedAt.toISOString().slice(0, 10);
      days.set(day, (days.get(day) ?? 0) + 1);
    }
    const perDay = (app.body.commands_per_bot_per_day as Array<Record<string, unknown>>).filter(
      (e) => e.bot_id === bot.bot.id,
    );
    expect(perDay).toEqual(
      [...days].sort().map(([day, count]) => ({ bot_id: bot.bot.id, name: bot.bot.name, day, count })),
    );
  });

  it('explains every kind of rejected item', async () => {
    const bot = await newBot();
    const other = await newBot();
    const foreign = await linkUser(other);
    const items = [
      { command: 'x'.repeat(65), success: true },
      { command: '', success: true },
      { command: 'ok', success: 'yes' },
      { command: 'ok', success: true, latency_ms: -1 },
      { command: 'ok', success: true, executed_at: 'yesterday' },
      { command: 'ok', success: true, executed_at: new Date(Date.now() + 3_600_000).toISOString() },
      { command: 'ok', success: true, executed_at: ago(8 * 24 * 3_600_000) },
      { command: 'ok', success: true, user_id: foreign.userId },
      { command: 'ok', success: true, user_id: foreign.userId, platform_user_id: 'p1' },
      { command: 'ok', success: true, user_id: 0 },
      { command: 'ok', success: true, user_id: 2 ** 31 },
      { command: 'ok', success: true, platform_user_id: 'nul\u0000byte' },
      { command: 'ok', success: true, platform_user_id: 'half \ud800 pair' },
      { command: 'ok', success: true, executed_at: ago(6 * 24 * 3_600_000), platform_user_id: 'émoji 🎲 ok' },
    ];
    const res = await api(server, 'POST', '/bot/batch', { headers: bot.headers, body: { items } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, rejected: 13 });
    const errors = (res.body.results as Array<{ error?: string }>).map((r) => r.error ?? 'ok');
    expect(errors).toEqual([
      'command must be at most 64 characters',
      'command is required',
      'success must be a boolean',
      'latency_ms must be at least 0',
      'executed_at must be a valid datetime',
      'executed_at must not be in the future',
      'executed_at must not be older than 7 days',
      'user_id must be a user linked to this bot',
      'user_id and platform_user_id cannot both be given',
      'user_id must be at least 1',
      'user_id must be at most 2147483647',
      'platform_user_id contains invalid characters',
      'platform_user_id contains invalid characters',
      'ok',
    ]);
    const [stored] = await db().select().from(botCommands).where(eq(botCommands.botId, bot.bot.id));
    expect(stored?.platformUserId).toBe('émoji 🎲 ok');
  });

  it('takes 1000 items and refuses 1001 or a malformed envelope as a whole', async () => {
    const bot = await newBot();
    const item = { command: 'bulk', success: true };
    const full = await api(server, 'POST', '/bot/batch', {
      headers: bot.headers,
      body: { items: Array.from({ length: 1000 }, () => item) },
    });
    expect(full.status).toBe(200);
    expect(full.body).toMatchObject({ accepted: 1000, rejected: 0 });
    const post = (body: unknown) => api(server, 'POST', '/bot/batch', { headers: bot.headers, body });
    await expectError(
      post({ items: Array.from({ length: 1001 }, () => item) }),
      400,
      'items must have at most 1000 items',
    );
    await expectError(post({}), 400, 'items is required');
    await expectError(post({ items: 'ping' }), 400, 'items must be an array');
    await expectError(post({ items: [item, 7] }), 400, 'items.[1] must be an object');
    const stored = await db().select().from(botCommands).where(eq(botCommands.botId, bot.bot.id));
    expect(stored).toHaveLength(1000);
    const empty = await post({ items: [] });
    expect(empty.body).toEqual({ accepted: 0, rejected: 0, results: [] });
  });
});

describe('linked users: GET /bot/users/{user_id} and POST /bot/users/{user_id}/update', () => {
  it('shows a linked user with their platform identities and state', async () => {
    const bot = await newBot();
    const linked = await linkUser(bot);
    const res = await api(server, 'GET', `/bot/users/${linked.userId}`, { headers: bot.headers });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({
      id: linked.userId,
      username: linked.username,
      state: 0,
      state_expires_at: null,
      has_premium: false,
      platform_user_ids: [linked.platformUserId],
      is_admin: false,
    });
  });

  it('answers 404 "User not found" for users not linked to the calling bot', async () => {
    const bot = await newBot();
    const other = await newBot();
    const theirs = await linkUser(other);
    const stranger = await makeUser(server);
    for (const id of [theirs.userId, stranger.user.id, 999999]) {
      await expectError(
        api(server, 'GET', `/bot/users/${id}`, { headers: bot.headers }),
        404,
        'User not found',
      );
      await expectError(
        api(server, 'POST', `/bot/users/${id}/update`, { headers: bot.headers, body: { avatar: '🎲' } }),
        404,
        'User not found',
      );
    }
    await expectError(
      api(server, 'GET', '/bot/users/99999999999', { headers: bot.headers }),
      400,
      'user_id must be at most 2147483647',
    );
    const untouched = await api(server, 'GET', `/bot/users/${theirs.userId}`, { headers: other.headers });
    expect((untouched.body.user as Record<string, unknown>).avatar).toMatchObject({ emoji: null });
  });

  it('changes username and avatar under the username rules and uniqueness', async () => {
    const bot = await newBot();
    const linked = await linkUser(bot);
    const taken = await makeUser(server);
    const update = (body: unknown) =>
      api(server, 'POST', `/bot/users/${linked.userId}/update`, { headers: bot.headers, body });

    const renamed = uniqueName('Renamed');
    const ok = await update({ username: renamed, avatar: '🎲' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.user).toMatchObject({ id: linked.userId, username: renamed, avatar: { emoji: '🎲' } });
    // A change of case is the same name, not a conflict with itself.
    const recased = await update({ username: renamed.toLowerCase() });
    expect((recased.body.user as { username: string }).username).toBe(renamed.toLowerCase());

    await expectError(update({ username: taken.username.toUpperCase() }), 409, 'Username is already taken');
    await expectError(update({ username: 'ab' }), 400, 'username must be at least 3 characters');
    await expectError(update({ username: 'no spaces here' }), 400, 'username contains invalid characters');
    await expectError(update({ avatar: 'https://example.com/a.png' }), 400, 'avatar must be a single emoji');
    await expectError(update({}), 400, 'At least one of username or avatar is required');

    const cleared = await update({ avatar: null });
    expect(cleared.body.user).toMatchObject({ username: renamed.toLowerCase(), avatar: { emoji: null } });
    const profile = await api(server, 'GET', `/users/${linked.userId}`);
    expect(profile.body.username).toBe(renamed.toLowerCase());
  });
});

/**
 * Four `GET /bot/me` calls against a limit of 3 per `windowSeconds` (a window aligned to its
 * length, like every limit here): the 4th is the contract's 429, and X-RateLimit-* report that limit.
 */
async function fourCallsOverLimitOf3(
  target: TestServer,
  headers: Record<string, string>,
  windowSeconds: number,
) {
  // Do not straddle the end of the window.
  const left = windowSeconds * 1000 - (Date.now() % (windowSeconds * 1000));
  if (left < 20_000) await sleep(left + 50);
  const calls = [];
  for (let i = 0; i < 4; i++) calls.push(await api(target, 'GET', '/bot/me', { headers }));
  expect(calls.map((c) => c.status)).toEqual([200, 200, 200, 429]);
  expect(calls.map((c) => c.headers.get('x-ratelimit-limit'))).toEqual(['3', '3', '3', '3']);
  expect(calls.map((c) => c.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
  const limited = calls[3]!;
  expect(limited.body).toMatchObject({ error: 'Too many requests', status: 429 });
  const retryAfter = Number(limited.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(Number(limited.headers.get('x-ratelimit-reset')) % windowSeconds).toBe(0);
}

describe("the bot's own rate_limit_per_hour", () => {
  it('answers the 4th call of a 3-per-hour bot with 429, reporting the tighter limit', async () => {
    const bot = await newBot({ rateLimitPerHour: 3 });
    await fourCallsOverLimitOf3(server, bot.headers, 3600);
    // Other bots keep their own budget; public endpoints are not counted against it.
    expect((await api(server, 'GET', '/bots', { headers: bot.headers })).status).toBe(200);
    const fresh = await newBot();
    const other = await api(server, 'GET', '/bot/me', { headers: fresh.headers });
    expect(other.status).toBe(200);
    // 3600 an hour is tighter than this server's BOT tier of 100000 a minute.
    expect(other.headers.get('x-ratelimit-limit')).toBe('3600');
    expect(other.headers.get('x-ratelimit-remaining')).toBe('3599');
  });
});

describe('the BOT tier (RATE_LIMIT_BOT=3 a minute) next to a looser hourly limit', () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await startTestServer({ env: { RATE_LIMIT_BOT: '3', RATE_LIMIT_PUBLIC: '100000' } });
  });
  afterAll(() => strict?.close());

  it('answers the 4th call in a minute with 429 and reports the tier, the tighter of the two', async () => {
    const { bot, apiKey } = await makeBot(strict, { rateLimitPerHour: 1000 });
    const headers = { 'x-api-key': apiKey };
    await fourCallsOverLimitOf3(strict, headers, 60);
    // Every /bot/* path shares the tier's budget for this key.
    expect((await api(strict, 'POST', '/bot/batch', { headers, body: { items: [] } })).status).toBe(429);
    // Calls the tier refused never reached the bot's hourly counter: this probe is its 4th use.
    const hourly = await strict.deps.rateLimiter.checkCustom('bot-hour', `bot:${bot.id}`, 1000, 3_600_000);
    expect(hourly.remaining).toBe(996);
  });
});
