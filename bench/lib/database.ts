import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { type Database, openDatabase } from '../../src/db/client';
import { seedMigratedDatabase } from './template';

/**
 * Where a database benchmark runs: a fresh embedded database in a temp DATA_DIR, or, with
 * BENCH_DATABASE_URL set, a fresh database on that PostgreSQL server (dropped by `cleanup`).
 * `env` is what a Portal process needs to use the same database.
 */
export type BenchDatabase = {
  env: Record<string, string>;
  open(): Promise<Database>;
  cleanup(): Promise<void>;
};

export async function prepareBenchDatabase(name: string): Promise<BenchDatabase> {
  const base = process.env.BENCH_DATABASE_URL;
  if (!base) {
    const dir = mkdtempSync(join(tmpdir(), `portal-bench-${name}-`));
    await seedMigratedDatabase(dir);
    return {
      env: { DATA_DIR: dir },
      open: () => openDatabase({ dataDir: dir }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const database = `portal_bench_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${database}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${database}`;
  return {
    env: { DATABASE_URL: url.toString() },
    open: () => openDatabase({ url: url.toString(), maxConnections: 2 }),
    async cleanup() {
      const drop = postgres(base, { max: 1, onnotice: () => {} });
      await drop.unsafe(`drop database if exists ${database} with (force)`);
      await drop.end();
    },
  };
}
