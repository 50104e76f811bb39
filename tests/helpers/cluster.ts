import { Redis } from 'ioredis';
import { createLogger } from '../../src/core/log';
import { type RunningServer, startServer } from '../../src/server';
import { createDatabaseOn, postgresReachable } from './database';
import { makeTempDir, removeDir, testEnv } from './env';
import { uniqueName } from './identity';

// Cluster mode in tests: N in-process nodes on one fresh PostgreSQL database and one Redis, as
// production runs them behind a load balancer. Skipped (with the reason) where either is missing.

export const pgBase = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisReachable(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Why cluster tests cannot run here, or undefined. */
export async function clusterSkipReason(): Promise<string | undefined> {
  if (!(await postgresReachable(pgBase))) return `no PostgreSQL answers at ${pgBase}`;
  if (!(await redisReachable(redisUrl))) return `no Redis answers at ${redisUrl}`;
  return undefined;
}

export type Cluster = { nodes: RunningServer[]; stop(): Promise<void> };

export async function startCluster(count: number, env: Record<string, string> = {}): Promise<Cluster> {
  const database = await createDatabaseOn(pgBase);
  const shared = {
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `portal-test-${uniqueName('cluster')}:`,
    // Every node must share one key, or a token signed by one is refused by the other.
    PORTAL_SECRET_KEY: 'a'.repeat(64),
    RATE_LIMIT_LOGIN: '100000',
    RATE_LIMIT_AUTH: '100000',
    ...env,
  };
  const nodes: RunningServer[] = [];
  const dirs: string[] = [];
  for (let i = 0; i < count; i++) {
    const dir = makeTempDir();
    dirs.push(dir);
    nodes.push(await startServer(testEnv({ ...shared, DATA_DIR: dir }), { log: createLogger('silent') }));
  }
  return {
    nodes,
    async stop() {
      for (const node of nodes) await node.stop();
      await database.drop();
      for (const dir of dirs) removeDir(dir);
    },
  };
}
