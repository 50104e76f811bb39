import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log';
import { type Database, openDatabase } from '../../src/db/client';
import { blocks, matchHistory, matchQueue, roomMembers, rooms, users } from '../../src/db/schema';
import { leaveMatch } from '../../src/services/match/direct-rooms';
import { dequeueMatch, enqueueMatch, getMatchStatus } from '../../src/services/match/queue';
import { createMatchSweep, sweepMatchQueue } from '../../src/services/match/sweeper';
import type { MatchDeps } from '../../src/services/match/types';
import { STATE } from '../../src/services/users/policy';
import { createTestDatabaseUrl } from '../helpers/database';

// The pairing rules of API.md §5 on the services and a real database (PGlite by default,
// PostgreSQL with TEST_DATABASE_URL); with PostgreSQL also many sweepers on separate connection
// pools racing over one queue, which is what several nodes do.

let database: Database;
/** Set on PostgreSQL runs: more pools on the same database stand in for more nodes. */
let databaseUrl: string | undefined;
let drop: () => Promise<void>;
const published: Array<{ topic: string; message: unknown }> = [];
const bus = {
  publish: async (topic: string, message: unknown) => {
    published.push({ topic, message });
  },
} as unknown as MatchDeps['bus'];
const log = createLogger('silent');

const depsWith = (over: Partial<MatchDeps> = {}): MatchDeps => ({
  db: database.db,
  bus,
  log,
  fallbackSeconds: 30,
  cooldownMinutes: 60,
  ...over,
});

beforeAll(async () => {
  const target = await createTestDatabaseUrl();
  drop = target.drop;
  databaseUrl = target.url;
  database = await openDatabase(target.url ? { url: target.url } : { memory: true });
  await database.migrate();
});
afterAll(async () => {
  await database?.close();
  await drop?.();
});
beforeEach(async () => {
  published.length = 0;
  await database.db.delete(matchQueue);
  await database.db.delete(matchHistory);
  await database.db.delete(rooms);
  await database.db.delete(blocks);
});

let seq = 0;
async function newUsers(count: number) {
  const rows = await database.db
    .insert(users)
    .values(Array.from({ length: count }, () => ({ username: `mp_${process.pid}_${++seq}` })))
    .returning({ id: users.id, username: users.username });
  return rows;
}

const matchFound = () =>
  published
    .filter((p) => p.topic === 'portal.user-events')
    .map((p) => p.message as { user_ids: number[]; event: { type: string; room_id: number } });

describe('matchmaking services', () => {
  it('pairs two fitting users at once, publishes match_found to each, and records the pair', async () => {
    const [a, b] = await newUsers(2);
    const deps = depsWith();
    expect(await enqueueMatch(deps, { userId: a!.id, interests: ['chess'] })).toMatchObject({
      status: 'queued',
    });
    const matched = await enqueueMatch(deps, { userId: b!.id, interests: ['chess', 'go'] });
    expect(matched).toMatchObject({ status: 'matched', partner: { id: a!.id, username: a!.username } });
    const roomId = (matched as { room_id: number }).room_id;
    expect(await getMatchStatus(deps, a!.id)).toEqual({
      status: 'matched',
      room_id: roomId,
      partner: { id: b!.id, username: b!.username },
    });
    expect(matchFound()).toEqual([
      { user_ids: [b!.id], event: { type: 'match_found', room_id: roomId, partner: a } },
      { user_ids: [a!.id], event: { type: 'match_found', room_id: roomId, partner: b } },
    ]);
    const members = await database.db.select().from(roomMembers).where(sql`room_id = ${roomId}`);
    expect(members.map((m) => m.userId).sort()).toEqual([a!.id, b!.id].sort());
    expect(await database.db.select().from(matchQueue)).toEqual([]);
  });

  it('re-enqueue is idempotent (keeps queued_at); enqueue with a partner present is 409', async () => {
    const [a, b] = await newUsers(2);
    const deps = depsWith();
    const first = await enqueueMatch(deps, { userId: a!.id, interests: ['x'] });
    const again = await enqueueMatch(deps, { userId: a!.id, interests: ['y'], language: 'en' });
    expect(again).toMatchObject({ status: 'queued', queued_at: first.queued_at, interests: ['y'] });
    expect(await dequeueMatch(deps, a!.id)).toEqual({ success: true, removed: true });
    expect(await dequeueMatch(deps, a!.id)).toEqual({ success: true, removed: false });

    await enqueueMatch(deps, { userId: a!.id });
    await enqueueMatch(deps, { userId: b!.id });
    await expect(enqueueMatch(deps, { userId: a!.id })).rejects.toMatchObject({
      status: 409,
      message: 'Leave your current match first',
    });
    // Once the partner left, enqueue leaves the abandoned direct room (deleting it) and queues.
    await leaveMatch(deps, b!.id);
    expect(await getMatchStatus(deps, a!.id)).toEqual({ status: 'idle' });
    expect(await enqueueMatch(deps, { userId: a!.id })).toMatchObject({ status: 'queued' });
    expect(await database.db.select().from(rooms)).toEqual([]);
    await expect(leaveMatch(deps, a!.id)).rejects.toMatchObject({ status: 404, message: 'No active match' });
  });

  it('follows preferences until the fallback, and then pairs anyone', async () => {
    const [a, b, c] = await newUsers(3);
    const strict = depsWith();
    await enqueueMatch(strict, { userId: a!.id, interests: ['x'], language: 'en' });
    await enqueueMatch(strict, { userId: b!.id, interests: ['x'], language: 'de' });
    await enqueueMatch(strict, { userId: c!.id });
    expect((await sweepMatchQueue(strict)).pairs).toBe(0);
    // Everybody has now waited past a fallback of 0: the oldest seeker takes the oldest partner.
    const loose = depsWith({ fallbackSeconds: 0 });
    expect((await sweepMatchQueue(loose)).pairs).toBe(1);
    expect(await getMatchStatus(loose, a!.id)).toMatchObject({ status: 'matched', partner: { id: b!.id } });
    expect(await getMatchStatus(loose, c!.id)).toMatchObject({ status: 'queued' });
  });

  it('a seeker past the fallback still prefers a partner who fits', async () => {
    const [a, b, c] = await newUsers(3);
    await database.db.insert(matchQueue).values([
      { userId: a!.id, interests: ['x'], enqueuedAt: new Date(Date.now() - 60_000) },
      { userId: b!.id, interests: ['y'], enqueuedAt: new Date(Date.now() - 50_000) },
      { userId: c!.id, interests: ['x'], enqueuedAt: new Date(Date.now() - 1_000) },
    ]);
    expect((await sweepMatchQueue(depsWith({ fallbackSeconds: 30 }))).pairs).toBe(1);
    expect(await getMatchStatus(depsWith(), a!.id)).toMatchObject({ partner: { id: c!.id } });
  });

  it('never pairs blocked users (either direction), restricted users, or a pair within the cooldown', async () => {
    const [a, b, c, d] = await newUsers(4);
    const deps = depsWith({ fallbackSeconds: 0 });
    await database.db.insert(blocks).values([
      { blockerId: a!.id, blockedId: b!.id },
      { blockerId: c!.id, blockedId: a!.id },
    ]);
    for (const u of [a, b]) await enqueueMatch(deps, { userId: u!.id });
    await enqueueMatch(deps, { userId: c!.id });
    // a–b and c–a are blocked; b–c fits.
    expect(await getMatchStatus(deps, a!.id)).toMatchObject({ status: 'queued' });
    expect(await getMatchStatus(deps, c!.id)).toMatchObject({ status: 'matched', partner: { id: b!.id } });

    // Timed out while waiting: never paired, and the sweep drops the entry.
    await database.db
      .update(users)
      .set({ state: STATE.TIMEOUT, stateExpiresAt: new Date(Date.now() + 60_000) })
      .where(sql`id = ${d!.id}`);
    await database.db.insert(matchQueue).values({ userId: d!.id });
    expect(await sweepMatchQueue(deps)).toMatchObject({ pairs: 0, purged: 1 });
    expect(await getMatchStatus(deps, d!.id)).toEqual({ status: 'idle' });

    // Cooldown: b and c leave and come back; not paired again until the history row is old.
    await leaveMatch(deps, b!.id);
    await leaveMatch(deps, c!.id);
    await database.db.delete(matchQueue);
    await enqueueMatch(deps, { userId: b!.id });
    expect(await enqueueMatch(deps, { userId: c!.id })).toMatchObject({ status: 'queued' });
    expect((await sweepMatchQueue(deps)).pairs).toBe(0);
    expect((await sweepMatchQueue(depsWith({ fallbackSeconds: 0, cooldownMinutes: 0 }))).pairs).toBe(1);
  });

  it('sweeps past entries nobody can pair instead of retrying them every tick', async () => {
    // Three users who blocked everyone wait longest; behind them two who fit each other once the
    // fallback has passed. All five entered the queue in one statement (one timestamp, to the
    // microsecond), so the sweep's order falls back to user ids.
    const [a, b, c, d, e] = await newUsers(5);
    const stuck = [a, b, c].map((u) => u!.id);
    const everyone = [a, b, c, d, e].map((u) => u!.id);
    await database.db
      .insert(blocks)
      .values(
        stuck.flatMap((blocker) =>
          everyone
            .filter((x) => x !== blocker)
            .map((blocked) => ({ blockerId: blocker, blockedId: blocked })),
        ),
      );
    await database.db.execute(sql`insert into match_queue (user_id, interests, enqueued_at)
      select u, case when u = ${d!.id} then '["x"]'::jsonb when u = ${e!.id} then '["y"]'::jsonb else '[]'::jsonb end,
        now() - interval '100 seconds'
      from unnest(${sql.raw(`array[${everyone.join(',')}]`)}::int[]) u`);
    const sweep = createMatchSweep(depsWith(), { maxSeekers: 3 });
    const first = await sweep.tick();
    expect(first).toMatchObject({ pairs: 0, examined: 3, cursor: { userId: c!.id } });
    // The next tick starts behind the stuck head of the queue and pairs the two who fit.
    expect(await sweep.tick()).toMatchObject({ pairs: 1, cursor: null });
    const [pair] = await database.db.select().from(matchHistory);
    expect([pair!.userLow, pair!.userHigh]).toEqual([d!.id, e!.id].sort((x, y) => x - y));
    // At the end of the queue the walk wraps around to the oldest entries.
    expect(await sweep.tick()).toMatchObject({ pairs: 0, examined: 3, cursor: { userId: c!.id } });
    expect((await database.db.select().from(matchQueue)).map((q) => q.userId).sort()).toEqual(stuck.sort());
  });

  it('never pairs anyone twice when sweeps and enqueues race (many connection pools on PostgreSQL)', async () => {
    const count = 400;
    const people = await newUsers(count);
    const deps = depsWith({ fallbackSeconds: 0 });
    const url = databaseUrl;
    const pools = url
      ? await Promise.all(Array.from({ length: 4 }, () => openDatabase({ url, maxConnections: 4 })))
      : [database];
    try {
      await Promise.all(
        people.map((p, i) =>
          enqueueMatch(
            { ...deps, db: pools[i % pools.length]!.db },
            { userId: p.id, interests: [`i${i % 3}`] },
          ),
        ),
      );
      for (let round = 0; round < 20; round++) {
        const results = await Promise.all(pools.map((pool) => sweepMatchQueue({ ...deps, db: pool.db })));
        if (results.every((r) => r.pairs === 0)) break;
      }
    } finally {
      for (const pool of pools) if (pool !== database) await pool.close();
    }
    const history = await database.db.select().from(matchHistory);
    const seen = new Set<number>();
    for (const h of history) {
      expect(h.userLow).not.toBe(h.userHigh);
      for (const id of [h.userLow, h.userHigh]) {
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
    }
    expect(history.length).toBe(count / 2);
    const sizes = await database.query<{ n: number }>(
      sql`select count(*)::int as n from room_members group by room_id`,
    );
    expect(sizes.every((s) => s.n === 2)).toBe(true);
  });
});
