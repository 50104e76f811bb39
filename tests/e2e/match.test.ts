import { eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blocks, matchHistory, matchQueue, roomMembers, rooms, users } from '../../src/db/schema';
import { createSession } from '../../src/services/auth/sessions';
import { ROOM_EVENTS_TOPIC } from '../../src/services/rooms/events';
import { api, uniqueName } from '../helpers/identity';
import { closePortalClients, openPortal, portalUrl, waitFor } from '../helpers/portal-client';
import { adminCaller, startTestServer, type TestServer } from '../helpers/server';

// 1-on-1 matchmaking (API.md §5) as clients use it: real HTTP calls, `match_found` on real
// /ws/portal sockets, a real database (PGlite, or PostgreSQL with TEST_DATABASE_URL). Two nodes
// on one PostgreSQL: tests/integration/match-cluster.test.ts.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const generous = {
  RATE_LIMIT_LOGIN: '1000000',
  RATE_LIMIT_AUTH: '1000000',
  RATE_LIMIT_ADMIN: '1000000',
  RATE_LIMIT_PUBLIC: '1000000',
};
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(closePortalClients);

function harness(env: Record<string, string>) {
  const ctx = { server: undefined as unknown as TestServer };
  beforeAll(async () => {
    ctx.server = await startTestServer({ env: { ...generous, ...env } });
  });
  afterAll(() => ctx.server?.close());
  // The queue is shared by every test of a server: start each one with it empty.
  afterEach(() => ctx.server.deps.database.db.delete(matchQueue));

  const db = () => ctx.server.deps.database.db;
  /** A user with a session token; no password hashing, so many are cheap. */
  async function member() {
    const [user] = await db()
      .insert(users)
      .values({ username: uniqueName('m') })
      .returning();
    const { token } = await createSession(db(), ctx.server.deps.secretKey, { user: user!, method: 'test' });
    return { id: user!.id, username: user!.username, token };
  }
  type Member = Awaited<ReturnType<typeof member>>;
  const call = (m: Member | null, method: string, path: string, body?: unknown) =>
    api(ctx.server, method, path, { ...(m && { token: m.token }), ...(body !== undefined && { body }) });
  const enqueue = (m: Member, body: unknown = {}) => call(m, 'POST', '/match/enqueue', body);
  const status = async (m: Member) => (await call(m, 'GET', '/match/status')).body;
  async function connected(m: Member) {
    const socket = await openPortal(portalUrl(ctx.server, m.token));
    expect((await socket.next()).type).toBe('ready');
    return socket;
  }
  const admin = () => adminCaller(ctx.server);
  return { ctx, db, member, call, enqueue, status, connected, admin };
}

describe('matchmaking on one node (fallback 30 s, cooldown 60 min)', () => {
  const { ctx, db, member, call, enqueue, status, connected, admin } = harness({});

  it('pairs two users who share an interest: match_found to both, one direct room, status, leave', async () => {
    const [a, b] = [await member(), await member()];
    const [socketA, socketB] = [await connected(a), await connected(b)];

    const queued = await enqueue(a, { interests: [' Chess ', 'chess', 'Go'], language: 'EN' });
    expect(queued.status, JSON.stringify(queued.body)).toBe(200);
    expect(queued.body).toEqual({
      status: 'queued',
      queued_at: expect.stringMatching(/Z$/),
      waiting_seconds: 0,
      interests: ['chess', 'go'],
      language: 'en',
    });
    expect(await status(a)).toMatchObject({ status: 'queued', queued_at: queued.body.queued_at });
    expect(await status(b)).toEqual({ status: 'idle' });

    const matched = await enqueue(b, { interests: ['go'], language: 'en' });
    // Usually paired by this very call; if the per-node sweep held A's row at that moment
    // (SKIP LOCKED), B is queued and the sweep pairs them a moment later.
    if (matched.body.status === 'queued') expect(matched.body).toMatchObject({ status: 'queued' });
    else
      expect(matched.body).toEqual({
        status: 'matched',
        queued_at: expect.any(String),
        room_id: expect.any(Number),
        partner: { id: a.id, username: a.username },
      });
    const foundA = await socketA.nextOf('match_found');
    const roomId = foundA.room_id as number;
    if (matched.body.status === 'matched') expect(roomId).toBe(matched.body.room_id);
    expect(foundA).toEqual({
      type: 'match_found',
      room_id: roomId,
      partner: { id: b.id, username: b.username },
    });
    expect(await socketB.nextOf('match_found')).toEqual({
      type: 'match_found',
      room_id: roomId,
      partner: { id: a.id, username: a.username },
    });
    expect(await status(a)).toEqual({
      status: 'matched',
      room_id: roomId,
      partner: { id: b.id, username: b.username },
    });
    const [room] = await db().select().from(rooms).where(eq(rooms.id, roomId));
    expect(room).toMatchObject({ kind: 'direct', ownerId: null, maxMembers: 2 });
    const members = await db().select().from(roomMembers).where(eq(roomMembers.roomId, roomId));
    expect(members.map((m) => m.userId).sort((x, y) => x - y)).toEqual([a.id, b.id].sort((x, y) => x - y));
    expect(await db().select().from(matchQueue)).toEqual([]);

    // Both open the direct chat on their sockets.
    for (const socket of [socketA, socketB]) {
      socket.send({ type: 'join_room', room_id: roomId, screen: false });
      expect(await socket.nextOf('room_joined')).toMatchObject({ room_id: roomId, chat: { kind: 'direct' } });
    }

    // While the partner is there, enqueue is refused.
    expect((await enqueue(a)).body).toMatchObject({ status: 409, error: 'Leave your current match first' });

    // A leaves: B is told `member_left` (room event), A's sockets leave the room, the room stays.
    // (Checked on the Bus the /ws/portal hubs read, so it does not depend on join_room.)
    const roomEvents: unknown[] = [];
    const unsubscribe = await ctx.server.deps.bus.subscribe(ROOM_EVENTS_TOPIC, (m) => {
      roomEvents.push(m);
    });
    try {
      expect((await call(a, 'POST', '/match/leave')).body).toEqual({ success: true });
      await waitFor(() => roomEvents.length === 2, 'member_left and evict');
      expect(roomEvents).toEqual([
        {
          kind: 'event',
          room_id: roomId,
          event: { type: 'member_left', user_id: a.id, reason: 'left', room_id: roomId },
        },
        { kind: 'evict', room_id: roomId, user_id: a.id, reason: 'left' },
      ]);
      // The same on the sockets: B hears A leave, A's socket leaves the room.
      expect(await socketB.nextOf('member_left')).toEqual({
        type: 'member_left',
        room_id: roomId,
        user_id: a.id,
        reason: 'left',
      });
      expect(await socketA.nextOf('room_left')).toEqual({
        type: 'room_left',
        room_id: roomId,
        reason: 'left',
      });
      expect(await status(a)).toEqual({ status: 'idle' });
      expect(await status(b)).toEqual({ status: 'idle' });
      expect(await db().select().from(rooms).where(eq(rooms.id, roomId))).toHaveLength(1);
      expect((await call(a, 'POST', '/match/leave')).body).toMatchObject({
        status: 404,
        error: 'No active match',
      });

      // B may queue again; that leaves the abandoned room, which then has nobody and is deleted.
      expect((await enqueue(b)).body).toMatchObject({ status: 'queued' });
      await waitFor(() => roomEvents.length === 3, 'evict of B');
      expect(roomEvents[2]).toEqual({ kind: 'evict', room_id: roomId, user_id: b.id, reason: 'left' });
      expect(await db().select().from(rooms).where(eq(rooms.id, roomId))).toEqual([]);
    } finally {
      await unsubscribe();
    }

    expect((await call(b, 'POST', '/match/dequeue')).body).toEqual({ success: true, removed: true });
    expect((await call(b, 'POST', '/match/dequeue')).body).toEqual({ success: true, removed: false });
    expect(await status(b)).toEqual({ status: 'idle' });
  });

  it('re-enqueue while queued updates preferences and keeps the queue time', async () => {
    const a = await member();
    const first = await enqueue(a, { interests: ['x'] });
    await pause(1100);
    const second = await enqueue(a, { interests: ['y'], language: 'de' });
    expect(second.body).toMatchObject({
      status: 'queued',
      queued_at: first.body.queued_at,
      interests: ['y'],
      language: 'de',
    });
    expect(second.body.waiting_seconds).toBeGreaterThanOrEqual(1);
    expect((await call(a, 'POST', '/match/enqueue')).body).toMatchObject({ interests: [], language: null });
  });

  it('refuses anonymous callers, invalid input and timed-out users; never pairs a user with themselves', async () => {
    for (const [method, path] of [
      ['POST', '/match/enqueue'],
      ['POST', '/match/dequeue'],
      ['POST', '/match/leave'],
      ['GET', '/match/status'],
    ] as const) {
      const res = await call(null, method, path, method === 'POST' ? {} : undefined);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: 'Authentication required',
        status: 401,
        correlation_id: expect.any(String),
      });
      expect(res.body.correlation_id).toMatch(UUID);
    }

    const a = await member();
    const invalid: Array<[unknown, string]> = [
      [{ interests: Array.from({ length: 11 }, (_, i) => `t${i}`) }, 'interests must have at most 10 items'],
      [{ interests: ['x'.repeat(33)] }, 'Each interest must be at most 32 characters'],
      [{ interests: ['  '] }, 'Each interest must be at least 1 character'],
      [{ interests: 'chess' }, 'interests must be an array'],
      [{ interests: [42] }, 'Each interest must be a string'],
      [{ language: 'english please' }, 'language must be a language tag such as en or pt-BR'],
      [{ interest: ['chess'] }, 'interest is not an allowed field'],
    ];
    for (const [body, error] of invalid) {
      const res = await enqueue(a, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual({ error, status: 400, correlation_id: expect.stringMatching(UUID) });
    }
    expect(await status(a)).toEqual({ status: 'idle' });

    // Never self: concurrent enqueues of one user leave one queue entry and no pair.
    const results = await Promise.all([enqueue(a), enqueue(a), enqueue(a)]);
    for (const res of results) expect(res.body).toMatchObject({ status: 'queued' });
    expect(await db().select().from(matchQueue).where(eq(matchQueue.userId, a.id))).toHaveLength(1);

    // Timed out: enqueue is 403 with expires_at; stepping out of the queue is still allowed.
    await admin().users.timeout({ username: a.username, minutes: 5 });
    const refused = await enqueue(a);
    expect(refused.body).toMatchObject({
      error: 'Your account is temporarily restricted',
      status: 403,
      expires_at: expect.stringMatching(/Z$/),
      correlation_id: expect.stringMatching(UUID),
    });
    expect(Date.parse(refused.body.expires_at as string)).toBeGreaterThan(Date.now());
    // (The sweeper may have dropped the timed-out user's entry already: `removed` can be either.)
    expect((await call(a, 'POST', '/match/dequeue')).body).toEqual({
      success: true,
      removed: expect.any(Boolean),
    });
    expect(await db().select().from(matchQueue).where(eq(matchQueue.userId, a.id))).toEqual([]);
    expect(await db().select().from(matchHistory).where(eq(matchHistory.userLow, a.id))).toEqual([]);
    expect(await db().select().from(matchHistory).where(eq(matchHistory.userHigh, a.id))).toEqual([]);
  });

  it('never pairs a user banned or timed out while waiting; the sweep drops them from the queue', async () => {
    const [banned, timedOut, c] = [await member(), await member(), await member()];
    expect((await enqueue(banned)).body).toMatchObject({ status: 'queued' });
    await admin().users.ban({ username: banned.username, reason: 'spam' });
    expect((await enqueue(c)).body).toMatchObject({ status: 'queued' });
    await call(c, 'POST', '/match/dequeue');

    expect((await enqueue(timedOut)).body).toMatchObject({ status: 'queued' });
    await admin().users.timeout({ username: timedOut.username, minutes: 5 });
    expect((await enqueue(c)).body).toMatchObject({ status: 'queued' });
    await waitFor(
      async () => (await db().select().from(matchQueue)).length === 1,
      'the sweeper to drop the restricted entries',
    );
    expect(await status(c)).toMatchObject({ status: 'queued' });
  });

  it('follows interests and language while the fallback lasts: A(x) gets C(x), not B(y)', async () => {
    const [a, b, c] = [await member(), await member(), await member()];
    expect((await enqueue(a, { interests: ['x'] })).body).toMatchObject({ status: 'queued' });
    expect((await enqueue(b, { interests: ['y'] })).body).toMatchObject({ status: 'queued' });
    const matched = await enqueue(c, { interests: ['x', 'z'] });
    expect(matched.body).toMatchObject({ status: 'matched', partner: { id: a.id } });
    // Language counts too, and so does a missing preference on the other side.
    const [de, en, none] = [await member(), await member(), await member()];
    expect((await enqueue(de, { interests: ['y'], language: 'de' })).body).toMatchObject({
      status: 'queued',
    });
    expect((await enqueue(en, { interests: ['y'], language: 'en' })).body).toMatchObject({
      status: 'queued',
    });
    expect((await enqueue(none)).body).toMatchObject({ status: 'queued' });
    await pause(1200); // a sweep or more
    for (const m of [b, de, en, none]) expect(await status(m)).toMatchObject({ status: 'queued' });
  });

  it('never pairs a blocked pair; not the same pair again within the cooldown', async () => {
    const [a, b] = [await member(), await member()];
    expect((await call(a, 'POST', `/api/blocks/${b.id}`)).status).toBe(200);
    await enqueue(a);
    expect((await enqueue(b)).body).toMatchObject({ status: 'queued' });
    await pause(1200);
    expect(await status(a)).toMatchObject({ status: 'queued' });
    await call(a, 'POST', '/match/dequeue');
    await call(b, 'POST', '/match/dequeue');

    const [c, d] = [await member(), await member()];
    const socketC = await connected(c);
    await enqueue(c);
    expect((await enqueue(d)).body).toMatchObject({ status: 'matched', partner: { id: c.id } });
    await socketC.nextOf('match_found');
    await call(c, 'POST', '/match/leave');
    await call(d, 'POST', '/match/leave');
    await enqueue(c);
    expect((await enqueue(d)).body).toMatchObject({ status: 'queued' });
    await pause(1200);
    expect(await status(c)).toMatchObject({ status: 'queued' });
    // Once their last match is older than the cooldown, the sweeper pairs them again.
    await db()
      .update(matchHistory)
      .set({ createdAt: sql`now() - interval '61 minutes'` })
      .where(eq(matchHistory.userLow, Math.min(c.id, d.id)));
    expect(await socketC.nextOf('match_found')).toMatchObject({ partner: { id: d.id } });
    expect(await status(d)).toMatchObject({ status: 'matched', partner: { id: c.id } });
  });
});

describe('matchmaking with MATCH_FALLBACK_SECONDS=0 and MATCH_COOLDOWN_MINUTES=0', () => {
  const { db, member, call, enqueue, status } = harness({
    MATCH_FALLBACK_SECONDS: '0',
    MATCH_COOLDOWN_MINUTES: '0',
  });

  it('anyone pairs with anyone right away, whatever their preferences', async () => {
    const [a, b] = [await member(), await member()];
    await enqueue(a, { interests: ['x'], language: 'en' });
    expect((await enqueue(b, { interests: ['y'], language: 'de' })).body).toMatchObject({
      status: 'matched',
      partner: { id: a.id },
    });
  });

  it('blocked pairs are never paired, in either direction, even past the fallback', async () => {
    const [a, b, c, d] = [await member(), await member(), await member(), await member()];
    await db()
      .insert(blocks)
      .values([
        { blockerId: a.id, blockedId: b.id },
        { blockerId: d.id, blockedId: c.id },
      ]);
    await enqueue(a);
    expect((await enqueue(b)).body).toMatchObject({ status: 'queued' });
    await call(a, 'POST', '/match/dequeue');
    await call(b, 'POST', '/match/dequeue');
    await enqueue(c);
    expect((await enqueue(d)).body).toMatchObject({ status: 'queued' });
    await pause(1200);
    expect(await status(c)).toMatchObject({ status: 'queued' });
    expect(await status(d)).toMatchObject({ status: 'queued' });
  });

  it('with no cooldown the same pair is matched again', async () => {
    const [a, b] = [await member(), await member()];
    await enqueue(a);
    const first = await enqueue(b);
    expect(first.body).toMatchObject({ status: 'matched', partner: { id: a.id } });
    await call(a, 'POST', '/match/leave');
    await call(b, 'POST', '/match/leave');
    await enqueue(a);
    const second = await enqueue(b);
    expect(second.body).toMatchObject({ status: 'matched', partner: { id: a.id } });
    expect(second.body.room_id).not.toBe(first.body.room_id);
  });
});
