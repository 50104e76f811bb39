import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../src/db/client';
import { createUser } from '../src/services/users/accounts';
import { prepareBenchDatabase } from './lib/database';
import { median, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';

// A broadcast notification to every user (admin router `notifications.broadcast`, what
// `npm run admin -- broadcast` calls): batched INSERT … SELECT from users plus one Bus message,
// timed end to end over /trpc against a Portal server process. Baseline, same run, same database:
// one plain `INSERT … SELECT` of the same rows, which is the floor for writing them at all.
//
// Setup: the users are inserted with one generate_series statement before the server starts, by
// this process on the database the server will use: a fresh embedded data dir (PGlite admits one
// process, so this process closes it before the server opens it), or, with BENCH_DATABASE_URL, a
// fresh database created on that PostgreSQL server and dropped afterwards. The baseline runs in the
// same window. Each side runs one untimed warm-up round, then the timed rounds, appending to the
// table without clearing it, so each round of either writes into a table of the same size; the
// table is emptied once in between.

const USERS = isQuick ? 10_000 : 100_000;
const rounds = isQuick ? 1 : 3;
const secretText = randomBytes(32).toString('hex');
const password = 'bench owner password';
const owner = 'bench_owner';

/** The same rows the broadcast writes, as one plain statement; returns milliseconds. */
async function plainInsertSelect(database: Database, id: number): Promise<number> {
  const started = performance.now();
  await database.query(sql`insert into notifications (id, user_id, type, title, message, link, data, created_at)
    select ${id}::int, u.id, 'admin', 'Baseline', 'Hello everyone', null, null, now() from users u`);
  return performance.now() - started;
}

const target = await prepareBenchDatabase('notify');
try {
  const database = await target.open();
  const baseline: number[] = [];
  try {
    await database.migrate();
    await createUser(database.db, { username: owner, password, level: 3 });
    await database.query(sql`insert into users (username, avatar_initials)
      select 'bench_' || g, 'BE' from generate_series(1, ${USERS - 1}::int) g`);
    await database.query(sql`analyze users`);
    // Round 0 warms up either side (a fresh process plans and compiles its statements first).
    for (let i = 0; i <= rounds; i++) {
      const ms = await plainInsertSelect(database, 1_000_000 + i);
      if (i > 0) baseline.push(ms);
    }
    await database.query(sql`truncate notifications`);
  } finally {
    await database.close();
  }

  const portal = await startProcess('src/main.ts', {
    ...target.env,
    PORTAL_SECRET_KEY: secretText,
    RATE_LIMIT_LOGIN: '1000000',
    RATE_LIMIT_ADMIN: '1000000',
  });
  try {
    const signIn = await fetch(`${portal.url}/api/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: owner, password }),
    });
    if (!signIn.ok) throw new Error(`sign-in: ${signIn.status} ${await signIn.text()}`);
    const { token } = (await signIn.json()) as { token: string };

    const broadcast: number[] = [];
    for (let i = 0; i <= rounds; i++) {
      const started = performance.now();
      const res = await fetch(`${portal.url}/trpc/admin.notifications.broadcast`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ title: `Bench broadcast ${i}`, message: 'Hello everyone' }),
      });
      const elapsed = performance.now() - started;
      const body = (await res.json()) as { result?: { data?: { count?: number } } };
      const count = body.result?.data?.count;
      if (!res.ok || count !== USERS) throw new Error(`broadcast: ${res.status} ${JSON.stringify(body)}`);
      if (i > 0) broadcast.push(elapsed);
    }

    report('notify.broadcast', [
      {
        name: `${USERS.toLocaleString('en-US')} users`,
        value: median(broadcast),
        unit: 'ms',
        baseline: { name: 'plain INSERT … SELECT of the same rows', value: median(baseline) },
      },
    ]);
  } finally {
    await portal.stop();
  }
} finally {
  await target.cleanup();
}
