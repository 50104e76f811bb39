import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { runtime } from '../../src/core/env';
import { SECURITY_HEADERS } from '../../src/rest/middleware/security-headers';
import { createDatabaseOn, postgresReachable } from '../helpers/database';
import { makeTempDir, removeDir, testEnvVars } from '../helpers/env';
import { fitInOneMinuteWindow } from '../helpers/rate-window';
import { runToExit, type SpawnedServer, spawnServer } from '../helpers/spawn';

// The server as its own process, the way `npm start` runs it.

const dirs: string[] = [];
const servers: SpawnedServer[] = [];
const tempDir = () => {
  const dir = makeTempDir();
  dirs.push(dir);
  return dir;
};
const track = (s: SpawnedServer) => {
  servers.push(s);
  return s;
};

afterAll(async () => {
  for (const s of servers) if (s.proc.exitCode === null) await s.kill('SIGKILL');
  for (const d of dirs) removeDir(d);
});

const pgUrl = runtime.testDatabaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = runtime.testRedisUrl ?? 'redis://127.0.0.1:6379';

async function redisReachable(url: string) {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000 });
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

const hasPostgres = await postgresReachable(pgUrl);
const hasRedis = await redisReachable(redisUrl);
if (!hasPostgres) console.warn(`skipping PostgreSQL process test: no server answers at ${pgUrl}`);
if (!hasRedis) console.warn(`skipping cluster rate-limit test: no Redis answers at ${redisUrl}`);

describe('start on the embedded database', () => {
  it('serves /health with every contract header on a fresh DATA_DIR', async () => {
    const dataDir = join(tempDir(), 'data');
    const server = track(await spawnServer({ DATA_DIR: dataDir }));
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name)).toBe(value);
    expect(res.headers.get('x-source-hash')).toBe('test-build');
    expect(res.headers.get('x-ratelimit-limit')).toBe('1200');
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(server.logs.some((l) => l.msg === 'database ready' && l.database === 'pglite')).toBe(true);

    // The embedded database admits one process: a second server on the same DATA_DIR refuses clearly.
    const second = await runToExit(['--import', 'tsx', 'src/main.ts'], testEnvVars({ DATA_DIR: dataDir }));
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`in use by process ${server.proc.pid}`);

    expect(await server.kill('SIGTERM')).toBe(0);
  });

  it('stops with one line naming a bad variable', async () => {
    const result = await runToExit(
      ['--import', 'tsx', 'src/main.ts'],
      testEnvVars({ PORT: 'eighty', DATA_DIR: tempDir() }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('Invalid configuration: PORT');
    const level = await runToExit(
      ['--import', 'tsx', 'src/main.ts'],
      testEnvVars({ LOG_LEVEL: 'loud', DATA_DIR: tempDir() }),
    );
    expect(level.code).toBe(1);
    expect(level.stderr).toMatch(/^Invalid configuration: LOG_LEVEL must be one of fatal, error/);
  });
});

describe('SIGTERM drains', () => {
  it('finishes an in-flight request, refuses new connections, and exits 0', async () => {
    const server = track(
      await spawnServer({ DATA_DIR: tempDir() }, { entry: 'tests/helpers/fixture-main.ts' }),
    );
    const { port } = new URL(server.url);
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/fixtures/slow',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => {
            body += d.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ ms: 1500 }));
    });
    await sleep(300);
    server.proc.kill('SIGTERM');
    await sleep(300);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
    const done = await inFlight;
    expect(done).toEqual({ status: 200, body: JSON.stringify({ waited: 1500 }) });
    expect(await server.exited).toBe(0);
    expect(server.logs.some((l) => l.msg === 'stopped')).toBe(true);
  });
});

describe.skipIf(!hasPostgres)('start on a PostgreSQL server (DATABASE_URL)', () => {
  it('migrates and serves', async () => {
    const db = await createDatabaseOn(pgUrl);
    try {
      const server = track(await spawnServer({ DATA_DIR: tempDir(), DATABASE_URL: db.url }));
      expect(server.logs.some((l) => l.msg === 'database ready' && l.database === 'postgres')).toBe(true);
      const ready = await fetch(`${server.url}/health/ready`);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', bus: 'ok' } });
      expect(await server.kill('SIGTERM')).toBe(0);
      // A second start finds the schema already migrated.
      const again = track(await spawnServer({ DATA_DIR: tempDir(), DATABASE_URL: db.url }));
      expect((await fetch(`${again.url}/health`)).status).toBe(200);
      expect(await again.kill('SIGTERM')).toBe(0);
    } finally {
      await db.drop();
    }
  });
});

describe.skipIf(!hasRedis)('cluster mode (REDIS_URL)', () => {
  it('shares rate limits between two server processes', async () => {
    const shared = {
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `portal-test-${randomBytes(4).toString('hex')}:`,
      RATE_LIMIT_HEALTH: '6',
      PORTAL_SECRET_KEY: randomBytes(32).toString('hex'),
    };
    const [a, b] = await Promise.all([
      spawnServer({ ...shared, DATA_DIR: tempDir() }).then(track),
      spawnServer({ ...shared, DATA_DIR: tempDir() }).then(track),
    ]);
    await fitInOneMinuteWindow(5_000);
    const statuses: number[] = [];
    const remaining: string[] = [];
    for (const url of [a.url, b.url, a.url, b.url, a.url, b.url, a.url, b.url]) {
      const res = await fetch(`${url}/health`);
      await res.arrayBuffer();
      statuses.push(res.status);
      remaining.push(res.headers.get('x-ratelimit-remaining') ?? '');
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    expect(remaining).toEqual(['5', '4', '3', '2', '1', '0', '0', '0']);
    expect(await a.kill('SIGTERM')).toBe(0);
    expect(await b.kill('SIGTERM')).toBe(0);
  });
});
