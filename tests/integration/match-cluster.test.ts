import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomToken, sha256Hex } from '../../src/core/crypto';
import { openDatabase } from '../../src/db/client';
import { blocks, matchHistory, sessions, users } from '../../src/db/schema';
import { createDatabaseOn, postgresReachable } from '../helpers/database';
import { makeTempDir, removeDir } from '../helpers/env';
import { waitFor } from '../helpers/portal-client';
import { type SpawnedServer, spawnServer } from '../helpers/spawn';

// Matchmaking is cluster-safe (API.md §5, docs/matchmaking.md): two server processes (src/main.ts)
// on ONE PostgreSQL database, 1,000 users enqueueing at once over HTTP, half through each node,
// with both nodes' sweepers pairing the picky ones after the fallback. Afterwards the database
// must show disjoint pairs only. Needs a PostgreSQL server (TEST_DATABASE_URL or the local
// default); skipped with a printed reason otherwise.

const generous = {
  RATE_LIMIT_LOGIN: '1000000',
  RATE_LIMIT_AUTH: '1000000',
  RATE_LIMIT_ADMIN: '1000000',
  RATE_LIMIT_PUBLIC: '1000000',
};

const pgBase = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const clusterSkip = (await postgresReachable(pgBase)) ? undefined : `no PostgreSQL answers at ${pgBase}`;
if (clusterSkip) console.warn(`[match] skipping the two-node test: ${clusterSkip}`);

describe.skipIf(clusterSkip !== undefined)('matchmaking on two nodes sharing one PostgreSQL', () => {
  const USERS = 1000;
  const nodes: SpawnedServer[] = [];
  const dirs: string[] = [];
  let databaseUrl = '';
  let drop: () => Promise<void> = async () => {};
  const people: Array<{ id: number; token: string }> = [];

  beforeAll(async () => {
    const created = await createDatabaseOn(pgBase);
    databaseUrl = created.url;
    drop = created.drop;
    // Users, sessions and some blocks go in before the nodes start (and migrate: that is idempotent).
    const database = await openDatabase({ url: databaseUrl, maxConnections: 2 });
    try {
      await database.migrate();
      const rows = await database.db
        .insert(users)
        .values(Array.from({ length: USERS }, (_, i) => ({ username: `cl_${process.pid}_${i}` })))
        .returning({ id: users.id });
      const batch = rows.map((row) => {
        const token = randomToken(32);
        people.push({ id: row.id, token });
        return {
          id: randomBytes(15).toString('base64url'),
          userId: row.id,
          tokenHash: sha256Hex(token),
          tokenSuffix: token.slice(-6),
          method: 'test',
          expiresAt: new Date(Date.now() + 3_600_000),
        };
      });
      await database.db.insert(sessions).values(batch);
      // Neighbours in id order block each other now and then, one way or the other.
      const pairs = rows.slice(0, -1).flatMap((row, i) => (i % 7 === 0 ? [[row.id, rows[i + 1]!.id]] : []));
      await database.db
        .insert(blocks)
        .values(
          pairs.map(([x, y], i) =>
            i % 2 ? { blockerId: x!, blockedId: y! } : { blockerId: y!, blockedId: x! },
          ),
        );
    } finally {
      await database.close();
    }
    const shared = {
      DATABASE_URL: databaseUrl,
      PORTAL_SECRET_KEY: 'b'.repeat(64),
      // Picky users wait for a sweep to pair them after a second: both nodes' sweepers race.
      MATCH_FALLBACK_SECONDS: '1',
      ...generous,
    };
    const started = await Promise.all(
      [0, 1].map(() => {
        const dir = makeTempDir();
        dirs.push(dir);
        return spawnServer({ ...shared, DATA_DIR: dir, LOG_LEVEL: 'info' });
      }),
    );
    nodes.push(...started);
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    await drop();
    for (const dir of dirs) removeDir(dir);
  });

  it('1,000 users enqueueing at once through two nodes: every pair disjoint, nobody paired twice', async () => {
    let next = 0;
    const failures: string[] = [];
    const worker = async () => {
      for (let i = next++; i < people.length; i = next++) {
        const node = nodes[i % 2]!;
        const res = await fetch(`${node.url}/match/enqueue`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${people[i]!.token}` },
          // A third want nobody in particular, the others one of three interests.
          body: JSON.stringify(i % 3 === 0 ? {} : { interests: [`topic${i % 4}`] }),
        });
        if (res.status !== 200) failures.push(`${res.status} ${await res.text()}`);
        else await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    expect(failures).toEqual([]);

    const database = await openDatabase({ url: databaseUrl, maxConnections: 2 });
    try {
      const waiting = async () =>
        (await database.query<{ n: number }>(sql`select count(*)::int as n from match_queue`))[0]!.n;
      // Until the queue is empty, or stable for three seconds (a blocked pair may be all that is left).
      let last = -1;
      let stableSince = Date.now();
      await waitFor(
        async () => {
          const now = await waiting();
          if (now !== last) [last, stableSince] = [now, Date.now()];
          return now === 0 || Date.now() - stableSince > 3000;
        },
        'the queue to drain',
        30_000,
      );

      const history = await database.db.select().from(matchHistory);
      const paired = new Map<number, number>();
      for (const h of history) {
        expect(h.userLow).toBeLessThan(h.userHigh);
        for (const id of [h.userLow, h.userHigh]) paired.set(id, (paired.get(id) ?? 0) + 1);
      }
      expect([...paired.values()].filter((n) => n > 1)).toEqual([]);

      const memberships = await database.query<{ user_id: number; rooms: number }>(
        sql`select rm.user_id, count(*)::int as rooms from room_members rm
            join rooms r on r.id = rm.room_id and r.kind = 'direct' group by rm.user_id`,
      );
      expect(memberships.filter((m) => m.rooms > 1)).toEqual([]);
      const sizes = await database.query<{ room_id: number; n: number; distinct_users: number }>(
        sql`select r.id as room_id, count(rm.user_id)::int as n, count(distinct rm.user_id)::int as distinct_users
            from rooms r left join room_members rm on rm.room_id = r.id where r.kind = 'direct' group by r.id`,
      );
      expect(sizes.length).toBe(history.length);
      expect(sizes.filter((s) => s.n !== 2 || s.distinct_users !== 2)).toEqual([]);

      const blocked = await database.query<{ n: number }>(
        sql`select count(*)::int as n from match_history h join blocks b
            on (b.blocker_id = h.user_low and b.blocked_id = h.user_high)
            or (b.blocker_id = h.user_high and b.blocked_id = h.user_low)`,
      );
      expect(blocked[0]!.n).toBe(0);

      const left = await waiting();
      expect(left + 2 * history.length).toBe(USERS);
      // At most one user is left waiting, unless those left are blocked pairs (never paired).
      const unpairable = await database.query<{ n: number }>(
        sql`select count(*)::int as n from match_queue x join match_queue y on x.user_id < y.user_id
            where not exists (select 1 from blocks b where (b.blocker_id = x.user_id and b.blocked_id = y.user_id)
              or (b.blocker_id = y.user_id and b.blocked_id = x.user_id))`,
      );
      expect(unpairable[0]!.n).toBe(0);
      // Blocks join id-neighbours only, so no three users left can all be blocked from each other.
      expect(left).toBeLessThanOrEqual(2);
      console.log(`[match] two nodes: ${history.length} pairs, ${left} waiting`);
    } finally {
      await database.close();
    }
  });
});
