import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trpcAs, trpcRefusal } from '../helpers/admin-http';
import { openChat } from '../helpers/chat-client';
import { runCli } from '../helpers/cli';
import { closePortalClients, waitFor } from '../helpers/portal-client';
import { roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// System health (seed 002 "System Health", API.md §10) through the typed admin router over HTTP and
// the admin CLI: CPU, memory, disk, the Portal process, database and bus latency, WebSockets.

let server: TestServer;
const { person } = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({ env: { ...NO_REQUEST_LIMITS } });
});
afterAll(async () => {
  await closePortalClients();
  await server?.close();
});

describe('health', () => {
  it('reports the host, the process, the database, the bus and the sockets of the answering node', async () => {
    const admin = trpcAs(server, (await person(2)).token).admin;
    const user = await person(0);
    const before = await admin.health.system.query();
    await openChat(server, user.token);
    await waitFor(
      async () =>
        ((await admin.health.system.query()).websockets.online_users ?? 0) >
        (before.websockets.online_users ?? 0),
      'the chat user counted online',
    );
    const h = await admin.health.system.query();
    expect(h.status).toBe('ok');
    expect(h.problems).toEqual([]);
    expect(h.process).toMatchObject({
      role: 'server',
      pid: process.pid,
      portal_version: server.deps.build.version,
      commit: 'test-build',
      node_version: process.version,
    });
    expect(h.process.cpu_percent).toBeGreaterThanOrEqual(0);
    expect(h.process.memory.rss_bytes).toBeGreaterThan(0);
    expect(h.process.event_loop.utilization).toBeGreaterThanOrEqual(0);
    expect(h.process.event_loop.delay.max_ms).toBeGreaterThanOrEqual(h.process.event_loop.delay.p50_ms);
    expect(h.process.open_file_descriptors).toBeGreaterThan(0);
    expect(h.cpu.count).toBeGreaterThan(0);
    expect(h.cpu.usage_percent).toBeGreaterThanOrEqual(0);
    expect(h.cpu.usage_percent).toBeLessThanOrEqual(100);
    expect(h.memory.total_bytes).toBeGreaterThanOrEqual(h.memory.free_bytes);
    expect(h.disk.total_bytes).toBeGreaterThanOrEqual(h.disk.free_bytes!);
    expect(h.disk.path).toBe(server.dataDir);
    expect(h.database).toMatchObject({ kind: server.deps.database.kind, state: 'ok' });
    expect(h.database.latency_ms).toBeGreaterThanOrEqual(0);
    expect(h.database.size_bytes).toBeGreaterThan(0);
    expect(h.bus).toMatchObject({ kind: 'local', state: 'ok' });
    expect(h.websockets.connections).toBeGreaterThanOrEqual(1);
    expect(h.websockets.online_users).toBeGreaterThanOrEqual(1);
  });

  it('is for Admins only', async () => {
    const user = await person(0);
    expect(await trpcRefusal(trpcAs(server, user.token).admin.health.system.query())).toMatchObject({
      status: 403,
      error: 'Admin access required',
    });
    expect(await trpcRefusal(trpcAs(server).admin.health.system.query())).toMatchObject({ status: 401 });
  });

  it('answers the CLI, from the server on the embedded database and from the CLI’s own process on PostgreSQL', async () => {
    const env = {
      DATA_DIR: server.dataDir,
      ...(server.deps.env.DATABASE_URL && { DATABASE_URL: server.deps.env.DATABASE_URL }),
    };
    const [json, human] = await Promise.all([runCli(env, 'health', '--json'), runCli(env, 'health')]);
    expect(json.code, json.stderr).toBe(0);
    const onPostgres = server.deps.database.kind === 'postgres';
    expect(json.json).toMatchObject({
      status: 'ok',
      process: { role: onPostgres ? 'cli' : 'server' },
      websockets: { connections: onPostgres ? null : expect.any(Number) },
    });
    if (!onPostgres) expect((json.json.process as { pid: number }).pid).toBe(process.pid);
    expect(human.stdout).toMatch(/^status {4}ok\nprocess {3}(server|cli) on /);
    expect(human.stdout).toMatch(/\nsockets {3}/);
  }, 60_000);
});
