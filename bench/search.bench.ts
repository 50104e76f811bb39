import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { createSecretBox } from '../src/core/crypto';
import { createLogger } from '../src/core/log';
import type { RateLimiter } from '../src/core/rate-limit';
import type { Database } from '../src/db/client';
import { channelMembers, channels, chatMessages } from '../src/db/schema';
import { searchTokensOf } from '../src/services/search/blind-index';
import { findChannelCandidates } from '../src/services/search/channel-candidates';
import { searchMessages } from '../src/services/search/search';
import { SEARCH_LIMITS, type SearchQuery } from '../src/services/search/types';
import { createUser } from '../src/services/users/accounts';
import { prepareBenchDatabase } from './lib/database';
import { isQuick, report } from './lib/report';

// Message search (GET /api/search's service, in-process: HTTP would add the same cost to either
// side) over MESSAGES channel messages stored as chat stores them: sealed text + blind-index
// tokens under a GIN index. Baseline, same run, same database: the same rows in plaintext with a
// `tsvector` GIN index and the same query semantics done entirely in SQL (access join, newest
// WINDOW matches, rank by occurrences then newest, page of 25, total) — what an unencrypted
// implementation (the seed's FTS5) would cost. A second figure times our token lookup alone, so
// the decrypt-and-rank share is visible. Queries mix a very common word, a middling one, a rare
// one and a two-word query; words follow a Zipf distribution, as natural language does.

// BENCH_SEARCH_MESSAGES overrides the size (e.g. a million rows in a quick run's results file).
const MESSAGES = Number(process.env.BENCH_SEARCH_MESSAGES) || (isQuick ? 10_000 : 1_000_000);
const BATCH = 5_000;
const RUNS = isQuick ? 40 : 100;
const VOCABULARY = 20_000;
const key = randomBytes(32);

/** The plaintext baseline's table (bench only): the body in clear, with a generated tsvector. */
const benchPlain = pgTable('bench_plain', {
  id: integer('id').primaryKey(),
  channelId: integer('channel_id').notNull(),
  userId: integer('user_id'),
  body: text('body').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
});
const box = createSecretBox(key);

// Deterministic data (mulberry32), so runs compare.
let seed = 42;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const words: string[] = [];
for (const seen = new Set<string>(); words.length < VOCABULARY; ) {
  const w = Array.from({ length: 3 + Math.floor(random() * 7) }, () =>
    String.fromCharCode(97 + Math.floor(random() * 26)),
  ).join('');
  if (seen.has(w)) continue;
  seen.add(w);
  words.push(w);
}
const cdf: number[] = [];
for (let i = 0, sum = 0; i < VOCABULARY; i++) {
  sum += 1 / (i + 1);
  cdf.push(sum);
}
const zipfWord = () => {
  const x = random() * cdf[VOCABULARY - 1]!;
  let lo = 0;
  for (let hi = VOCABULARY - 1; lo < hi; ) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return words[lo]!;
};
const sentence = () => {
  const n = 6 + Math.floor(random() * 15);
  return `${Array.from({ length: n }, zipfWord).join(' ')}.`;
};

async function seedMessages(database: Database, channelIds: number[], userIds: number[]) {
  const db = database.db;
  // Bulk load first and index after, as any import would; both tables get the same treatment.
  await database.query(sql`drop index chat_messages_search_idx`);
  await database.query(sql`create table bench_plain (id int primary key, channel_id int not null,
    user_id int, body text not null, created_at timestamptz not null,
    tsv tsvector generated always as (to_tsvector('simple', body)) stored)`);
  const started = performance.now();
  const since = Date.now() - 7 * 86_400_000;
  for (let done = 0; done < MESSAGES; done += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, MESSAGES - done) }, (_, i) => ({
      channelId: channelIds[Math.floor(random() * channelIds.length)]!,
      userId: userIds[Math.floor(random() * userIds.length)]!,
      body: sentence(),
      createdAt: new Date(since + ((done + i) / MESSAGES) * 7 * 86_400_000),
    }));
    const stored = await db
      .insert(chatMessages)
      .values(
        rows.map((r) => ({ ...r, text: box.encrypt(r.body), searchTokens: searchTokensOf(key, r.body) })),
      )
      .returning({ id: chatMessages.id });
    await db.insert(benchPlain).values(rows.map((r, i) => ({ ...r, id: stored[i]!.id })));
    if ((done / BATCH) % 20 === 0) console.log(`seeded ${done + rows.length} / ${MESSAGES}`);
  }
  const seededMs = performance.now() - started;
  const indexStarted = performance.now();
  await database.query(sql`create index chat_messages_search_idx on chat_messages using gin (search_tokens)`);
  await database.query(sql`create index bench_plain_tsv_idx on bench_plain using gin (tsv)`);
  await database.query(sql`analyze`);
  return { seededMs, indexMs: performance.now() - indexStarted };
}

/** The plaintext baseline: the same semantics as searchMessages, all in SQL. */
function plainSearch(database: Database, userId: number, q: string) {
  return database.query(sql`with q as (select plainto_tsquery('simple', ${q}) as q),
    hits as (select m.id, m.channel_id, c.name as channel_name, m.user_id, u.username, m.body,
        m.created_at, ts_rank(m.tsv, q.q, 0) as score
      from bench_plain m cross join q join channels c on c.id = m.channel_id
      left join channel_members me on me.channel_id = m.channel_id and me.user_id = ${userId}
      left join users u on u.id = m.user_id
      where m.tsv @@ q.q and (c.visibility = 'public' or me.user_id is not null)
      order by m.id desc limit ${SEARCH_LIMITS.WINDOW})
    select *, count(*) over () as total from hits order by score desc, created_at desc, id desc limit 25`);
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function timeEach(queries: string[], run: (q: string) => Promise<unknown>) {
  for (const q of queries.slice(0, 4)) await run(q); // warm-up: plans, caches
  const ms: number[] = [];
  for (const q of queries) {
    const started = performance.now();
    await run(q);
    ms.push(performance.now() - started);
  }
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

const target = await prepareBenchDatabase('search');
try {
  const database = await target.open();
  try {
    await database.migrate();
    const db = database.db;
    const users = await Promise.all(
      Array.from({ length: 50 }, (_, i) => createUser(db, { username: `bench_search_${i}` })),
    );
    const chans = await db
      .insert(channels)
      .values(
        Array.from({ length: 20 }, (_, i) => ({
          name: `bench-${i}`,
          visibility: i < 15 ? 'public' : 'private',
        })),
      )
      .returning();
    const caller = users[0]!;
    // The caller is in two of the five private channels.
    await db
      .insert(channelMembers)
      .values(chans.slice(15, 17).map((c) => ({ channelId: c.id, userId: caller.id })));
    const { seededMs, indexMs } = await seedMessages(
      database,
      chans.map((c) => c.id),
      users.map((u) => u.id),
    );
    console.log(
      `seeded ${MESSAGES} in ${(seededMs / 1000).toFixed(1)} s, indexed in ${(indexMs / 1000).toFixed(1)} s`,
    );

    // Rank 0 is in most messages; 100 in ~1 %; 5,000 is rare; plus a two-word query.
    const queries = Array.from(
      { length: RUNS },
      (_, i) => [words[0]!, words[100]!, words[5000]!, `${words[30]} ${words[300]}`][i % 4]!,
    );
    const noLimit: RateLimiter = {
      check: async () => ({ allowed: true, limit: 0, remaining: 0, resetAt: 0, retryAfterSeconds: 0 }),
      checkCustom: async () => ({ allowed: true, limit: 0, remaining: 0, resetAt: 0, retryAfterSeconds: 0 }),
      checkSliding: async () => ({ allowed: true, limit: 0, remaining: 0, resetAt: 0, retryAfterSeconds: 0 }),
    };
    const deps = { db, secretBox: box, secretKey: key, rateLimiter: noLimit, log: createLogger('silent') };
    const who = { userId: caller.id, level: 0 };
    const query = (q: string): SearchQuery => ({ q, scope: 'all', hasImage: false, limit: 25, offset: 0 });
    const ours = await timeEach(queries, (q) => searchMessages(deps, who, query(q)));
    const lookup = await timeEach(queries, (q) =>
      findChannelCandidates(deps, who, query(q), searchTokensOf(key, q)),
    );
    const plain = await timeEach(queries, (q) => plainSearch(database, caller.id, q));
    const n = MESSAGES.toLocaleString('en-US');
    const base = (name: string, value: number) => ({
      name: `plaintext tsvector GIN, same query in SQL: ${name}`,
      value,
    });
    report('search.messages', [
      {
        name: `search p50, ${n} sealed messages`,
        value: ours.p50,
        unit: 'ms',
        baseline: base('p50', plain.p50),
      },
      {
        name: `search p99, ${n} sealed messages`,
        value: ours.p99,
        unit: 'ms',
        baseline: base('p99', plain.p99),
      },
      {
        name: 'search p50',
        value: ours.p50,
        unit: 'ms',
        baseline: { name: 'blind-index GIN lookup alone (no decrypt/rank) p50', value: lookup.p50 },
      },
      {
        name: 'bulk seeding (seal + tokens + insert, both tables)',
        value: MESSAGES / (seededMs / 1000),
        unit: 'msg/s',
      },
    ]);
  } finally {
    await database.close();
  }
} finally {
  await target.cleanup();
}
