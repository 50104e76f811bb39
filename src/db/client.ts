import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { fromPackageRoot } from '../core/package-root';
import { acquireDataDirLock } from './data-dir-lock';
import * as schema from './schema';

export { schema };

/**
 * One drizzle type for both drivers. PGlite's database differs only in the result type of
 * `execute()`, which nobody outside this file calls (use `Database.query`), so it is typed as
 * the postgres.js one.
 */
export type Db = PostgresJsDatabase<typeof schema>;

export type Database = {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Db;
  /** Raw SQL returning rows on either driver (postgres.js returns an array, PGlite `{ rows }`). */
  query<T = Record<string, unknown>>(statement: SQL): Promise<T[]>;
  /** Applies pending migrations; safe when several nodes start at once on one PostgreSQL. */
  migrate(): Promise<void>;
  /** Throws when the database does not answer (readiness probe). */
  ping(): Promise<void>;
  /**
   * LISTEN on `channel`: `onNotify` gets each payload after its transaction commits; `onConnect`
   * runs whenever the listening connection is (re)established, since notifications sent while it
   * was down are lost. Resolves to the function that stops listening.
   */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onConnect: () => void,
  ): Promise<() => Promise<void>>;
  /**
   * Calls `fn` as this process sends an UPDATE or DELETE on a table that credentials are looked
   * up from (users, sessions, api_keys, bots), before it runs: a NOTIFY about it may reach this
   * node a moment after the writer's own answer, so the credential cache pauses meanwhile.
   */
  onCredentialWrite(fn: () => void): void;
  close(): Promise<void>;
};

const CREDENTIAL_WRITE = /^\s*(?:update|delete\s+from)\s+"?(?:users|sessions|api_keys|bots)"?\s/i;

/** The drizzle logger: the one place every query of both drivers passes, transactions included. */
function credentialWriteWatch() {
  const listeners = new Set<() => void>();
  return {
    logger: {
      logQuery(query: string) {
        if (listeners.size > 0 && CREDENTIAL_WRITE.test(query)) for (const fn of listeners) fn();
      },
    },
    onCredentialWrite: (fn: () => void) => void listeners.add(fn),
  };
}

const migrationsFolder = fromPackageRoot('src', 'db', 'migrations');

// Any constant works: it only has to be the same on every node of one cluster.
const MIGRATION_LOCK_ID = 7_231_001;

export type OpenDatabaseOptions =
  | { url: string; maxConnections?: number }
  | { dataDir: string }
  /** Throw-away in-memory PGlite (tests). */
  | { memory: true };

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  if ('url' in opts) return openPostgres(opts.url, opts.maxConnections ?? 10);
  if ('memory' in opts) return openPglite(new PGlite(), async () => {});
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  // PGlite admits one process per data dir; a second one would corrupt it, so refuse clearly.
  const release = acquireDataDirLock(opts.dataDir);
  try {
    const client = await PGlite.create(join(opts.dataDir, 'pgdata'));
    return openPglite(client, async () => release());
  } catch (err) {
    release();
    throw err;
  }
}

function openPglite(client: PGlite, onClose: () => Promise<void>): Database {
  const watch = credentialWriteWatch();
  const db = drizzlePglite(client, { schema, logger: watch.logger }) as unknown as Db;
  let closed = false;
  return {
    kind: 'pglite',
    db,
    async query<T>(statement: SQL) {
      const res = await (db as unknown as { execute(s: SQL): Promise<{ rows: T[] }> }).execute(statement);
      return res.rows;
    },
    async migrate() {
      await migratePglite(db as never, { migrationsFolder });
    },
    async ping() {
      await client.query('select 1');
    },
    async listen(channel, onNotify, onConnect) {
      // In-process: the one connection never drops.
      const unlisten = await client.listen(channel, onNotify);
      onConnect();
      return unlisten;
    },
    onCredentialWrite: watch.onCredentialWrite,
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
      await onClose();
    },
  };
}

function openPostgres(url: string, max: number): Database {
  const client = postgres(url, {
    max,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 60,
  });
  const watch = credentialWriteWatch();
  const db = drizzlePostgres(client, { schema, logger: watch.logger });
  return {
    kind: 'postgres',
    db,
    async query<T>(statement: SQL) {
      return (await db.execute(statement)) as unknown as T[];
    },
    async migrate() {
      // A reserved connection holds a session advisory lock while the pool migrates, so nodes
      // starting together wait for the first one instead of racing on the same DDL.
      const lock = await client.reserve();
      try {
        await lock`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
        await migratePostgres(db, { migrationsFolder });
      } finally {
        await lock`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {});
        lock.release();
      }
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async listen(channel, onNotify, onConnect) {
      // postgres.js keeps one dedicated connection for LISTEN and reconnects it by itself.
      const { unlisten } = await client.listen(channel, onNotify, onConnect);
      return unlisten;
    },
    onCredentialWrite: watch.onCredentialWrite,
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}
