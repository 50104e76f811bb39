import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelMembers, channels, chatMessages } from '../../src/db/schema';
import { createSession } from '../../src/services/auth/sessions';
import { searchTokensOf } from '../../src/services/search/blind-index';
import { parseIsoDate } from '../../src/services/search/search';
import { createUser } from '../../src/services/users/accounts';
import { LEVEL } from '../../src/services/users/policy';
import { dumpAllTables } from '../helpers/database';
import { api, uniqueName } from '../helpers/identity';
import { startTestServer, type TestServer } from '../helpers/server';

// GET /api/search over real HTTP on a real database: messages are stored the way chat stores them
// (sealed text, sealed attachments, blind-index tokens), then searched as members, outsiders,
// moderators and admins.

let server: TestServer;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Words no other test uses, so totals are exact and the dump check means something.
const W = {
  deploy: `zephyrdeploy${process.pid}`,
  secret: `quokkasecret${process.pid}`,
  page: `pagingword${process.pid}`,
  anon: `ghostword${process.pid}`,
};

type Person = { id: number; username: string; token: string };

async function person(level: number = LEVEL.USER): Promise<Person> {
  const db = server.deps.database.db;
  const username = uniqueName('srch');
  const user = await createUser(db, { username, level });
  const { token } = await createSession(db, server.deps.secretKey, { user, method: 'password' });
  return { id: user.id, username, token };
}

async function channel(
  visibility: 'public' | 'private',
  members: Array<[Person, 'member' | 'moderator']> = [],
) {
  const db = server.deps.database.db;
  const name = uniqueName('ch').toLowerCase().replace(/_/g, '-');
  const [row] = await db.insert(channels).values({ name, visibility }).returning();
  for (const [p, role] of members)
    await db.insert(channelMembers).values({ channelId: row!.id, userId: p.id, role });
  return row!;
}

async function post(
  channelId: number,
  author: Person,
  text: string,
  opts: { at?: Date; image?: string; anonymous?: boolean } = {},
) {
  const { secretBox, secretKey } = server.deps;
  const [row] = await server.deps.database.db
    .insert(chatMessages)
    .values({
      channelId,
      userId: author.id,
      text: secretBox.encrypt(text),
      attachments: opts.image ? secretBox.encrypt(JSON.stringify({ image_url: opts.image })) : null,
      anonymous: opts.anonymous ?? false,
      searchTokens: searchTokensOf(secretKey, text),
      ...(opts.at && { createdAt: opts.at }),
    })
    .returning();
  return row!;
}

const search = (p: Person, params: Record<string, string | number>) =>
  api(
    server,
    'GET',
    `/api/search?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}`,
    {
      token: p.token,
    },
  );

type Hit = Record<string, unknown>;
const hitsOf = (r: { body: Record<string, unknown> }) => r.body.results as Hit[];

let alice: Person;
let bob: Person;
let outsider: Person;
let pub: Awaited<ReturnType<typeof channel>>;
let priv: Awaited<ReturnType<typeof channel>>;

beforeAll(async () => {
  server = await startTestServer({ env: { RATE_LIMIT_AUTH: '100000' } });
  alice = await person();
  bob = await person();
  outsider = await person();
  pub = await channel('public');
  priv = await channel('private', [
    [alice, 'member'],
    [bob, 'member'],
  ]);
  await post(pub.id, alice, `Has anyone tried the new ${W.deploy} script?`, {
    at: new Date('2026-02-10T12:00:00Z'),
  });
  await post(pub.id, bob, `I ran ${W.deploy} yesterday. ${W.deploy} works, ${W.deploy}!`, {
    at: new Date('2026-02-11T12:00:00Z'),
  });
  await post(priv.id, alice, `The ${W.secret} plan, and ${W.deploy} too`, {
    at: new Date('2026-02-12T12:00:00Z'),
    image: '/static/uploads/chat/abc.png',
  });
});
afterAll(async () => {
  await server?.close();
});

describe('GET /api/search', () => {
  it('finds members their words, ranked by occurrences then newest, in the seed shape', async () => {
    const r = await search(alice, { q: W.deploy.toUpperCase() });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ total: 3, limit: 25, offset: 0 });
    const hits = hitsOf(r);
    // Bob's message says it three times; then the newest (the private one), then the oldest.
    expect(hits.map((h) => h.username)).toEqual([bob.username, alice.username, alice.username]);
    expect(hits[1]).toEqual({
      id: expect.any(Number),
      source: 'channel',
      channel_id: priv.id,
      channel_name: priv.name,
      user_id: alice.id,
      username: alice.username,
      message: `The ${W.secret} plan, and ${W.deploy} too`,
      created_at: '2026-02-12T12:00:00.000Z',
    });
  });

  it('needs every query word and keeps private channels from outsiders', async () => {
    expect(hitsOf(await search(alice, { q: `${W.secret} ${W.deploy}` }))).toHaveLength(1);
    expect(hitsOf(await search(alice, { q: `${W.secret} nowhere` }))).toHaveLength(0);
    const r = await search(outsider, { q: W.secret });
    expect(r.body).toMatchObject({ results: [], total: 0 });
    const all = await search(outsider, { q: W.deploy });
    expect(all.body.total).toBe(2);
    expect(hitsOf(all).every((h) => h.channel_id === pub.id)).toBe(true);
    // Admin+ read every channel in chat, so they find it too.
    const admin = await person(LEVEL.ADMIN);
    expect((await search(admin, { q: W.secret })).body.total).toBe(1);
  });

  it('filters by sender, dates, channel and image', async () => {
    const from = await search(alice, { q: W.deploy, from: bob.username.toUpperCase() });
    expect(hitsOf(from).map((h) => h.username)).toEqual([bob.username]);
    const before = await search(alice, { q: W.deploy, before: '2026-02-11T12:00:00' });
    expect(hitsOf(before).map((h) => h.created_at)).toEqual(['2026-02-10T12:00:00.000Z']);
    const after = await search(alice, { q: W.deploy, after: '2026-02-11' });
    expect(after.body.total).toBe(2);
    const inChannel = await search(alice, { q: W.deploy, channel_id: pub.id });
    expect(hitsOf(inChannel).every((h) => h.channel_id === pub.id)).toBe(true);
    const images = await search(alice, { q: W.deploy, has: 'image' });
    expect(hitsOf(images).map((h) => h.channel_id)).toEqual([priv.id]);
    // These words are in channels only: DMs find nothing, and a conversation filter leaves channels
    // out (DM search itself: dm-ws.test.ts and chat-search-at-rest.test.ts).
    expect((await search(alice, { q: W.deploy, scope: 'dms' })).body.total).toBe(0);
    expect((await search(bob, { q: W.deploy, conversation_id: 1 })).body.total).toBe(0);
    expect((await search(bob, { q: W.deploy, scope: 'channels' })).body.total).toBe(3);
  });

  it('pages with limit and offset over the whole ranked list', async () => {
    const reader = await person();
    const ch = await channel('public');
    for (let i = 0; i < 7; i++)
      await post(ch.id, reader, `${W.page} number ${i}`, { at: new Date(Date.UTC(2026, 0, 1, 0, i)) });
    const first = await search(reader, { q: W.page, limit: 3 });
    expect(first.body).toMatchObject({ total: 7, limit: 3, offset: 0 });
    const last = await search(reader, { q: W.page, limit: 3, offset: 6 });
    expect(hitsOf(last).map((h) => h.message)).toEqual([`${W.page} number 0`]);
    const all = [...hitsOf(first), ...hitsOf(await search(reader, { q: W.page, limit: 3, offset: 3 }))];
    expect(all.map((h) => h.message)).toEqual([6, 5, 4, 3, 2, 1].map((i) => `${W.page} number ${i}`));
  });

  it('hides anonymous authors except from themselves and moderators', async () => {
    const author = await person();
    const mod = await person();
    const reader = await person();
    const ch = await channel('public', [[mod, 'moderator']]);
    await post(ch.id, author, `${W.anon} says hello`, { anonymous: true });
    const masked = hitsOf(await search(reader, { q: W.anon }));
    expect(masked[0]).toMatchObject({ user_id: null, username: 'Anonymous' });
    // Filtering by the author's name must not unmask the message either.
    expect((await search(reader, { q: W.anon, from: author.username })).body.total).toBe(0);
    expect(hitsOf(await search(author, { q: W.anon }))[0]).toMatchObject({ user_id: author.id });
    expect(hitsOf(await search(mod, { q: W.anon, from: author.username }))[0]).toMatchObject({
      username: author.username,
    });
  });

  it('allows 10 searches a minute per user, then 429 with retry_after', async () => {
    const busy = await person();
    for (let i = 0; i < 10; i++) expect((await search(busy, { q: W.deploy })).status).toBe(200);
    const r = await search(busy, { q: W.deploy });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ error: 'Too many requests', status: 429 });
    expect(r.body.retry_after).toBeGreaterThan(0);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another user is not affected.
    expect((await search(await person(), { q: W.deploy })).status).toBe(200);
  });

  it('refuses bad input with the contract body naming the field', async () => {
    const p = await person();
    const short = await search(p, { q: ' a ' });
    expect(short.status).toBe(400);
    expect(short.body).toEqual({
      error: 'q must be at least 2 characters',
      status: 400,
      correlation_id: expect.stringMatching(UUID),
    });
    const missing = await api(server, 'GET', '/api/search', { token: p.token });
    expect(missing.body.error).toBe('q is required');
    expect((await search(p, { q: 'x'.repeat(201) })).body.error).toBe('q must be at most 200 characters');
    expect((await search(p, { q: 'ok', limit: 51 })).body.error).toBe('limit must be at most 50');
    expect((await search(p, { q: 'ok', scope: 'everything' })).status).toBe(400);
    expect((await search(p, { q: 'ok', before: 'yesterday' })).body.error).toBe(
      'before must be an ISO 8601 date',
    );
    expect((await api(server, 'GET', '/api/search?q=hello')).status).toBe(401);
  });

  it('stores no plaintext of the words anywhere in the database', async () => {
    const dump = await dumpAllTables(server.deps.database);
    expect(dump).toContain('chat_messages');
    for (const word of Object.values(W)) expect(dump).not.toContain(word);
  });
});

describe('parseIsoDate', () => {
  it('reads dates and date-times as UTC unless a zone is given', () => {
    expect(parseIsoDate('2026-02-11').toISOString()).toBe('2026-02-11T00:00:00.000Z');
    expect(parseIsoDate('2026-02-11T12:00:00').toISOString()).toBe('2026-02-11T12:00:00.000Z');
    expect(parseIsoDate('2026-02-11 12:00').toISOString()).toBe('2026-02-11T12:00:00.000Z');
    expect(parseIsoDate('2026-02-11T12:00:00+02:00').toISOString()).toBe('2026-02-11T10:00:00.000Z');
    expect(parseIsoDate('2026-02-11T12:00:00.5z').toISOString()).toBe('2026-02-11T12:00:00.500Z');
  });
});
