import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { runtime } from '../../src/core/env';
import { type Database, openDatabase } from '../../src/db/client';

/**
 * With TEST_DATABASE_URL set, each caller gets a fresh database on that PostgreSQL server (dropped
 * by the returned cleanup); without it, tests use the embedded database and get `undefined`.
 */
export async function createTestDatabaseUrl(): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  const base = runtime.testDatabaseUrl;
  if (!base) return { url: undefined, drop: async () => {} };
  return createDatabaseOn(base);
}

export async function createDatabaseOn(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `portal_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(baseUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await sql.end();
      }
    },
  };
}

/** Whether a PostgreSQL server answers at `url` (for tests that need one outside CI). */
export async function postgresReachable(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** Every row of every table as text, to prove that no secret is stored in plaintext. */
export async function dumpAllTables(database: Database): Promise<string> {
  const tables = await database.query<{ table_name: string }>(
    sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
  );
  let dump = '';
  for (const { table_name } of tables) {
    const rows = await database.query(sql.raw(`select * from "${table_name}"`));
    dump += `${table_name}\n${JSON.stringify(rows)}\n`;
  }
  return dump;
}

/** A migrated database of its own (fresh PostgreSQL database, or in-memory PGlite); `close` drops it. */
export async function openTestDatabase(): Promise<{ database: Database; close(): Promise<void> }> {
  const target = await createTestDatabaseUrl();
  const database = await openDatabase(target.url ? { url: target.url } : { memory: true });
  await database.migrate();
  return {
    database,
    async close() {
      await database.close();
      await target.drop();
    },
  };
}
