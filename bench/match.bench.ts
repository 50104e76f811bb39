import { type SQL, sql } from 'drizzle-orm';
import { createBus } from '../src/core/bus';
import { createLogger } from '../src/core/log';
import type { Database } from '../src/db/client';
import { isActive, notInDirectRoom } from '../src/services/match/eligibility';
import { MATCH_SWEEP, sweepMatchQueue } from '../src/services/match/sweeper';
import type { MatchDeps } from '../src/services/match/types';
import { ROOM_DEFAULTS } from '../src/services/rooms/types';
import { prepareBenchDatabase } from './lib/database';
import { isQuick, report } from './lib/report';

// Matchmaking (API.md §5): a backlog of USERS queued users, with interests and languages, drained
// by the pairing sweep exactly as a node's sweeper runs it (`sweepMatchQueue`: up to 200 seekers a
// tick, one short transaction per pair that locks with FOR UPDATE SKIP LOCKED), ticks back to back
// instead of once a second, so the figure is the capacity of one node. Figures: pairs per second,
// and time-to-match per user, from entering the queue (one INSERT … SELECT puts everyone in at the
// same instant) to the commit time of their pair (`match_history.created_at`).
//
// Baseline, same run, same database, same backlog re-seeded: the same algorithm (same rules: not
// self, active users only, no direct room, no block either way, cooldown, preferences first) as
// ONE SQL statement per pair (CTEs that lock, delete and insert), driven by the same seeker loop
// but without the service layer: no drizzle query building, one round trip per pair instead of
// about ten. It is the floor for doing this pair by pair with the same guarantees.
//
// MATCH_FALLBACK_SECONDS is 0 here, so the whole backlog is pairable (a seeker still takes a
// partner who fits their preferences first). The database is a fresh embedded one, or, with
// BENCH_DATABASE_URL, a fresh database created on that PostgreSQL server and dropped afterwards.

const USERS = isQuick ? 2_000 : 10_000;
const TOPICS = 12;

/** Everyone queued at one instant: a third want nobody in particular, the rest 2 of 12 topics. */
async function seedQueue(database: Database, count: number) {
  await database.query(sql`delete from match_history`);
  await database.query(sql`delete from rooms`);
  await database.query(sql`insert into match_queue (user_id, interests, language)
    select id,
      case when id % 3 = 0 then '[]'::jsonb
        else jsonb_build_array('t' || (id % ${TOPICS}), 't' || ((id * 7 + 3) % ${TOPICS})) end,
      case id % 4 when 0 then null when 1 then 'de' else 'en' end
    from users order by id limit ${count}`);
  // No ANALYZE: PGlite has no autovacuum, so a deployment never has fresh statistics either, and
  // an ANALYZE right after the deletes above records room_members/match_history as empty while
  // their pages remain, which makes the planner scan them per candidate as they grow again.
}

/** When each pair was committed (epoch ms; both users of a pair waited as long), checked for doubles. */
async function pairedAt(database: Database) {
  const rows = await database.query<{ ms: number }>(
    sql`select (extract(epoch from created_at) * 1000)::float8 as ms from match_history`,
  );
  const twice = await database.query<{ n: number }>(sql`select count(*)::int as n from (
      select u from (select user_low as u from match_history union all select user_high from match_history) x
      group by u having count(*) > 1) d`);
  if (twice[0]!.n !== 0) throw new Error(`${twice[0]!.n} users were paired twice`);
  return rows.map((r) => Number(r.ms));
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** Seeds the backlog, runs `drain`, and returns pairs/s and time-to-match percentiles. */
async function measure(database: Database, drain: () => Promise<number>, count = USERS) {
  await seedQueue(database, count);
  const [seeded] = await database.query<{ t0: number }>(
    sql`select (extract(epoch from min(enqueued_at)) * 1000)::float8 as t0 from match_queue`,
  );
  const t0 = Number(seeded!.t0);
  const started = performance.now();
  const pairs = await drain();
  const seconds = (performance.now() - started) / 1000;
  const waits = (await pairedAt(database)).map((ms) => ms - t0).sort((a, b) => a - b);
  if (waits.length !== pairs) throw new Error(`drain reported ${pairs} pairs, history has ${waits.length}`);
  const left = await database.query<{ n: number }>(sql`select count(*)::int as n from match_queue`);
  return {
    pairsPerSecond: pairs / seconds,
    p50: percentile(waits, 50),
    p99: percentile(waits, 99),
    left: left[0]!.n,
  };
}

/** The service: sweep ticks back to back until one pairs nobody. */
async function drainWithService(deps: MatchDeps) {
  let total = 0;
  for (;;) {
    const { pairs } = await sweepMatchQueue(deps);
    total += pairs;
    if (pairs === 0) return total;
  }
}

// ── baseline: the same pairing as one statement ──────────────────────────────────────────────

const fits = (s: string, q: string) =>
  sql.raw(`(jsonb_array_length(${s}.interests) = 0
  or ${q}.interests ?| array(select jsonb_array_elements_text(${s}.interests)))
  and (${s}.language is null or ${q}.language = ${s}.language)`);

function pairStatement(seekerId: number, fallbackSeconds: number, cooldownMinutes: number): SQL {
  const waited = sql`match_queue.enqueued_at <= now() - (${fallbackSeconds}::int * interval '1 second')`;
  const candidate = sql`match_queue.user_id <> s.user_id and ${isActive} and ${notInDirectRoom}
    and not exists (select 1 from blocks b where (b.blocker_id = s.user_id and b.blocked_id = match_queue.user_id)
      or (b.blocker_id = match_queue.user_id and b.blocked_id = s.user_id))
    and not exists (select 1 from match_history h where h.user_low = least(s.user_id, match_queue.user_id)
      and h.user_high = greatest(s.user_id, match_queue.user_id)
      and h.created_at > now() - (${cooldownMinutes}::int * interval '1 minute'))
    and (${waited} or (${fits('match_queue', 's')}))`;
  return sql`with s as (
      select match_queue.user_id, match_queue.interests, match_queue.language, ${waited} as flexible
      from match_queue
      where match_queue.user_id = ${seekerId} and ${isActive} and ${notInDirectRoom}
      for update of match_queue skip locked),
    strict as (
      select match_queue.user_id from s, match_queue
      where ${candidate} and (${fits('s', 'match_queue')})
      order by match_queue.enqueued_at limit 1 for update of match_queue skip locked),
    relaxed as (
      select match_queue.user_id from s, match_queue
      where s.flexible and not exists (select 1 from strict) and ${candidate}
      order by match_queue.enqueued_at limit 1 for update of match_queue skip locked),
    pair as (
      select s.user_id as a, p.user_id as b
      from s, (select user_id from strict union all select user_id from relaxed) p limit 1),
    gone as (delete from match_queue where user_id in (select a from pair union all select b from pair)),
    room as (
      insert into rooms (owner_id, kind, name, start_url, viewport_width, viewport_height, max_members, control_policy)
      select null, 'direct', 'Direct chat', ${ROOM_DEFAULTS.start_url}, ${ROOM_DEFAULTS.width}, ${ROOM_DEFAULTS.height},
        2, 'everyone' from pair returning id),
    members as (
      insert into room_members (room_id, user_id, role)
      select room.id, x.u, 'member' from room, pair, lateral (values (pair.a), (pair.b)) x(u)),
    history as (
      insert into match_history (user_low, user_high, room_id)
      select least(a, b), greatest(a, b), room.id from pair, room)
    select a, b from pair`;
}

/** The same seeker loop as `sweepMatchQueue`, one statement per pair. */
async function drainWithStatement(database: Database, fallbackSeconds: number, cooldownMinutes: number) {
  let total = 0;
  for (;;) {
    const seekers = await database.query<{ user_id: number }>(
      sql`select user_id from match_queue order by enqueued_at limit ${MATCH_SWEEP.MAX_SEEKERS}`,
    );
    const paired = new Set<number>();
    for (const { user_id } of seekers) {
      if (paired.has(user_id)) continue;
      const [pair] = await database.query<{ a: number; b: number }>(
        pairStatement(user_id, fallbackSeconds, cooldownMinutes),
      );
      if (pair) paired.add(pair.a).add(pair.b);
    }
    total += paired.size / 2;
    if (paired.size === 0) return total;
  }
}

// ── run ──────────────────────────────────────────────────────────────────────────────────────

const target = await prepareBenchDatabase('match');
const database = await target.open();
const bus = await createBus({});
try {
  await database.migrate();
  await database.query(sql`insert into users (username, avatar_initials)
    select 'bench_m_' || g, 'BM' from generate_series(1, ${USERS}::int) g`);
  // One block per 50 users, alternating direction, so the block check has rows to look at.
  await database.query(sql`insert into blocks (blocker_id, blocked_id)
    select case when id % 100 = 0 then id else id + 1 end, case when id % 100 = 0 then id + 1 else id end
    from users where id % 50 = 0 and id < (select max(id) from users)`);
  const deps: MatchDeps = {
    db: database.db,
    bus,
    log: createLogger('silent'),
    fallbackSeconds: 0,
    cooldownMinutes: 60,
  };
  // A warm-up round on a small backlog for either side first (caches, JIT, the planner's stats).
  await measure(database, () => drainWithService(deps), 100);
  await measure(database, () => drainWithStatement(database, 0, 60), 100);
  const service = await measure(database, () => drainWithService(deps));
  const statement = await measure(database, () => drainWithStatement(database, 0, 60));
  for (const [name, r] of Object.entries({ service, statement })) {
    console.log(
      `${name}: ${r.pairsPerSecond.toFixed(0)} pairs/s, p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, ${r.left} left`,
    );
  }
  const baselineName = 'same algorithm as one SQL statement per pair';
  const backlog = `${USERS.toLocaleString('en-US')} queued users`;
  report('match.pairing', [
    {
      name: `drain ${backlog}, ${database.kind}: pairs/s`,
      value: service.pairsPerSecond,
      unit: 'pairs/s',
      baseline: { name: baselineName, value: statement.pairsPerSecond },
    },
    {
      name: `drain ${backlog}, ${database.kind}: p99 time-to-match`,
      value: service.p99,
      unit: 'ms',
      baseline: { name: baselineName, value: statement.p99 },
    },
    {
      name: `drain ${backlog}, ${database.kind}: p50 time-to-match`,
      value: service.p50,
      unit: 'ms',
      baseline: { name: baselineName, value: statement.p50 },
    },
  ]);
} finally {
  await bus.close();
  await database.close();
  await target.cleanup();
}
