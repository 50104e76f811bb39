import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokeAdmin } from '../../src/cli/invoke';
import { testEnvVars } from '../helpers/env';
import { api, makeUser, signIn } from '../helpers/identity';
import { startTestServer, type TestServer } from '../helpers/server';
import { runToExit } from '../helpers/spawn';

// Services of API.md §6: created by admins (router and CLI, audit-logged), listed by each user's
// scopes, and health-checked with a real TCP connect.

let server: TestServer;
let backend: Server;
let backendPort: number;
let closedPort: number;

beforeAll(async () => {
  server = await startTestServer({
    env: { RATE_LIMIT_LOGIN: '100000', RATE_LIMIT_AUTH: '100000', RATE_LIMIT_ADMIN: '100000' },
  });
  backend = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  backendPort = (backend.address() as { port: number }).port;
  // A port that was just free: nothing listens on it.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
});
afterAll(async () => {
  backend?.close();
  await server?.close();
});

const admin = (path: string, input?: unknown) => invokeAdmin(server.deps, { path, input });

type ServiceOut = { id: number; name: string };

async function userWithScopes(scopes: string) {
  const { username, password } = await makeUser(server);
  await admin('users.setScopes', { username, scopes });
  return signIn(server, username, password);
}

describe('services', () => {
  let servers: ServiceOut;
  let database: ServiceOut;
  let restricted: ServiceOut;
  let disabled: ServiceOut;
  let uncategorised: ServiceOut;

  beforeAll(async () => {
    servers = (await admin('services.create', {
      name: 'Home Server',
      plugin: 'ssh',
      host: '127.0.0.1',
      port: backendPort,
      path: '/homeserver',
      icon: 'terminal',
      category: 'Servers',
    })) as ServiceOut;
    database = (await admin('services.create', {
      name: 'Main DB',
      plugin: 'tunnel',
      host: '127.0.0.1',
      port: closedPort,
      category: 'databases',
    })) as ServiceOut;
    restricted = (await admin('services.create', {
      name: 'Ops Box',
      plugin: 'ssh',
      host: '10.0.0.9',
      port: 22,
      category: 'servers',
      scopes: 'access:ops, access:sre',
    })) as ServiceOut;
    disabled = (await admin('services.create', {
      name: 'Old Box',
      plugin: 'ssh',
      host: '10.0.0.8',
      port: 22,
      category: 'servers',
      enabled: false,
    })) as ServiceOut;
    uncategorised = (await admin('services.create', {
      name: 'Misc',
      plugin: 'vnc',
      host: '10.0.0.7',
      port: 5900,
    })) as ServiceOut;
  });

  const names = (body: Record<string, unknown>) =>
    (body.services as Array<{ name: string }>).map((s) => s.name).sort();

  it('filters by access:*, access:<category> and the service’s own scopes', async () => {
    const all = await userWithScopes('access:*');
    const serversOnly = await userWithScopes('access:servers');
    const serversOps = await userWithScopes('access:servers,access:ops');
    const none = await userWithScopes('');

    const listAll = await api(server, 'GET', '/api/services', { token: all });
    expect(listAll.status).toBe(200);
    expect(names(listAll.body)).toEqual(['Home Server', 'Main DB', 'Misc', 'Ops Box']);
    const home = (listAll.body.services as Array<Record<string, unknown>>).find(
      (s) => s.name === 'Home Server',
    );
    expect(home).toEqual({
      id: servers.id,
      name: 'Home Server',
      plugin: 'ssh',
      path: '/homeserver',
      icon: 'terminal',
      category: 'Servers',
      enabled: true,
    });

    expect(names((await api(server, 'GET', '/api/services', { token: serversOnly })).body)).toEqual([
      'Home Server',
    ]);
    expect(names((await api(server, 'GET', '/api/services', { token: serversOps })).body)).toEqual([
      'Home Server',
      'Ops Box',
    ]);
    expect(names((await api(server, 'GET', '/api/services', { token: none })).body)).toEqual([]);

    // One service: hidden, disabled and missing ones are all 404.
    expect((await api(server, 'GET', `/api/services/${servers.id}`, { token: serversOnly })).status).toBe(
      200,
    );
    for (const id of [restricted.id, database.id, uncategorised.id, disabled.id, 999_999]) {
      const res = await api(server, 'GET', `/api/services/${id}`, { token: serversOnly });
      expect(res.status, `service ${id}`).toBe(404);
      expect(res.body).toMatchObject({ error: 'Service not found', status: 404 });
      const health = await api(server, 'GET', `/api/services/${id}/health`, { token: serversOnly });
      expect(health.status).toBe(404);
    }
    expect((await api(server, 'GET', `/api/services/${restricted.id}`, { token: serversOps })).status).toBe(
      200,
    );
    expect((await api(server, 'GET', `/api/services/${disabled.id}`, { token: all })).status).toBe(404);
    expect((await api(server, 'GET', '/api/services')).status).toBe(401);
  });

  it('checks health with a real TCP connect, cached for 10 s', async () => {
    const token = await userWithScopes('access:*');
    const up = await api(server, 'GET', `/api/services/${servers.id}/health`, { token });
    expect(up.status).toBe(200);
    expect(up.body).toEqual({ healthy: true, latency_ms: expect.any(Number) });
    expect(up.body.latency_ms as number).toBeGreaterThanOrEqual(0);
    expect(up.body.latency_ms as number).toBeLessThan(3000);

    const down = await api(server, 'GET', `/api/services/${database.id}/health`, { token });
    expect(down.status).toBe(200);
    expect(down.body).toEqual({ healthy: false, latency_ms: null });

    // Within 10 s the cached answer stands even though the backend is gone.
    await new Promise<void>((resolve) => backend.close(() => resolve()));
    const cached = await api(server, 'GET', `/api/services/${servers.id}/health`, { token });
    expect(cached.body).toEqual(up.body);
    // Moving the service to another address is checked afresh.
    await admin('services.update', { id: servers.id, port: closedPort });
    const moved = await api(server, 'GET', `/api/services/${servers.id}/health`, { token });
    expect(moved.body).toEqual({ healthy: false, latency_ms: null });
  });

  it('checks http plugins with a GET: below 500 is healthy', async () => {
    const token = await userWithScopes('access:*');
    const web = createHttpServer((req, res) => {
      res.statusCode = req.url === '/' ? 401 : 404;
      res.end();
    });
    const broken = createHttpServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    for (const s of [web, broken]) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    try {
      const port = (s: typeof web) => (s.address() as { port: number }).port;
      const ok = (await admin('services.create', {
        name: 'Panel',
        plugin: 'http',
        host: '127.0.0.1',
        port: port(web),
      })) as ServiceOut;
      const bad = (await admin('services.create', {
        name: 'Broken panel',
        plugin: 'http',
        host: '127.0.0.1',
        port: port(broken),
      })) as ServiceOut;
      const okHealth = await api(server, 'GET', `/api/services/${ok.id}/health`, { token });
      expect(okHealth.body).toEqual({ healthy: true, latency_ms: expect.any(Number) });
      const badHealth = await api(server, 'GET', `/api/services/${bad.id}/health`, { token });
      expect(badHealth.body).toEqual({ healthy: false, latency_ms: null });
    } finally {
      web.close();
      broken.close();
    }
  });

  it('is managed through the admin router and the CLI, audit-logged', async () => {
    const env = testEnvVars({ DATA_DIR: server.dataDir, DATABASE_URL: server.deps.env.DATABASE_URL });
    const created = await runToExit(
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'service',
        'create',
        '--name',
        'CLI Box',
        '--plugin',
        'ssh',
        '--host',
        'cli.example.internal',
        '--port',
        '2222',
        '--category',
        'servers',
        '--scopes',
        'access:cli',
        '--json',
      ],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    const service = JSON.parse(created.stdout.trim()) as Record<string, unknown>;
    expect(service).toMatchObject({
      id: expect.any(Number),
      name: 'CLI Box',
      plugin: 'ssh',
      host: 'cli.example.internal',
      port: 2222,
      category: 'servers',
      scopes: 'access:cli',
      enabled: true,
    });

    const update = (...args: string[]) =>
      runToExit(
        ['--import', 'tsx', 'src/cli/main.ts', 'service', 'update', String(service.id), ...args, '--json'],
        env,
      );
    const updated = await update('--disabled', '--port', '2223');
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout.trim())).toMatchObject({ id: service.id, port: 2223, enabled: false });
    const unknownPlugin = await update('--plugin', 'telnet');
    expect(unknownPlugin.code).not.toBe(0);
    expect(String(JSON.parse(unknownPlugin.stdout.trim()).error)).toMatch(/^plugin must be one of/);
    await admin('services.update', { id: service.id, enabled: true });

    const listed = (await admin('services.list')) as { services: Array<{ id: number }> };
    expect(listed.services.map((s) => s.id)).toContain(service.id);

    const bad = await runToExit(
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'service',
        'create',
        '--name',
        'x',
        '--plugin',
        'ssh',
        '--host',
        'h',
        '--port',
        '70000',
        '--json',
      ],
      env,
    );
    expect(bad.code).not.toBe(0);
    expect(JSON.parse(bad.stdout.trim())).toEqual({ error: 'port must be at most 65535', status: 400 });

    const deleted = await runToExit(
      ['--import', 'tsx', 'src/cli/main.ts', 'service', 'delete', String(service.id), '--json'],
      env,
    );
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(JSON.parse(deleted.stdout.trim())).toEqual({ id: service.id, deleted: true });

    const audit = (await admin('audit.list', { limit: 50 })) as { entries: Array<{ action: string }> };
    const actions = audit.entries.map((e) => e.action);
    expect(actions).toContain('service.create');
    expect(actions).toContain('service.update');
    expect(actions).toContain('service.delete');

    // Only admins reach the admin router.
    const { username } = await makeUser(server);
    await expect(invokeAdmin(server.deps, { path: 'services.list', as: username })).rejects.toMatchObject({
      message: 'Admin access required',
    });
  }, 120_000);
});
