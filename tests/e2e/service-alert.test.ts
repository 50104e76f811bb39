import net from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokeAdmin } from '../../src/cli/invoke';
import { services } from '../../src/db/schema';
import { api, makeUser, signIn } from '../helpers/identity';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// The service monitor (API.md §4 service_alert): a real TCP backend that is stopped and started
// again; the alert reaches exactly the users whose scopes see the service, once per change.

let server: TestServer;
let backend: net.Server;
let port: number;
const peers = new Set<net.Socket>();

const startBackend = (p = 0) =>
  new Promise<number>((resolve) => {
    backend = net.createServer((s) => {
      peers.add(s);
      s.on('close', () => peers.delete(s));
      s.end();
    });
    backend.listen(p, '127.0.0.1', () => resolve((backend.address() as net.AddressInfo).port));
  });
const stopBackend = () =>
  new Promise<void>((resolve) => {
    for (const s of peers) s.destroy();
    backend.close(() => resolve());
  });

beforeAll(async () => {
  server = await startTestServer({
    env: { ...NO_REQUEST_LIMITS, RATE_LIMIT_ADMIN: '100000', SERVICE_CHECK_INTERVAL_SECONDS: '1' },
  });
  port = await startBackend();
});
afterAll(async () => {
  await stopBackend().catch(() => {});
  await server?.close();
});

async function userWithScopes(scopes: string) {
  const { username, password } = await makeUser(server);
  await invokeAdmin(server.deps, { path: 'users.setScopes', input: { username, scopes } });
  return signIn(server, username, password);
}

type Note = { type: string; title: string; data: Record<string, unknown> | null };
const alerts = async (token: string) =>
  ((await api(server, 'GET', '/notifications', { token })).body.notifications as Note[]).filter(
    (n) => n.type === 'service_alert',
  );

describe('service monitor', () => {
  it('alerts the users who can see a service when it goes down, and when it is back', async () => {
    const sees = await userWithScopes('access:ops');
    const blind = await userWithScopes('access:other');
    const created = (await invokeAdmin(server.deps, {
      path: 'services.create',
      input: { name: 'Build Box', plugin: 'tunnel', host: '127.0.0.1', port, category: 'ops' },
    })) as { id: number };
    const row = async () =>
      (await server.deps.database.db.select().from(services).where(eq(services.id, created.id)))[0];
    for (let i = 0; i < 200 && (await row())?.healthy !== true; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await row())?.healthy).toBe(true);
    expect(await alerts(sees)).toEqual([]);

    await stopBackend();
    for (let i = 0; i < 200 && (await alerts(sees)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    const down = await alerts(sees);
    expect(down).toHaveLength(1);
    expect(down[0]).toMatchObject({
      title: 'Build Box is down',
      data: { service_id: created.id, healthy: false },
    });
    expect((await row())?.healthy).toBe(false);

    await startBackend(port);
    for (let i = 0; i < 200 && (await alerts(sees)).length < 2; i++)
      await new Promise((r) => setTimeout(r, 100));
    const all = await alerts(sees);
    expect(all.map((n) => n.title).sort()).toEqual(['Build Box is back up', 'Build Box is down']);
    expect(await alerts(blind)).toEqual([]);
  }, 90_000);
});
