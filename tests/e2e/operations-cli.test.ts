import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifications } from '../../src/db/schema';
import { recordServiceCheck } from '../../src/services/connections/service-checks';
import { runCli } from '../helpers/cli';
import { api, makeUser, uniqueName } from '../helpers/identity';
import { adminCaller, NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// Operator commands of the admin CLI (API.md §10) in their own process against a running server —
// through DATA_DIR/admin.sock on the embedded database, in-process on PostgreSQL: settings,
// invite rotation, retention policies and runs (dry and real) on data of known ages, the service
// log; and their refusals with the contract's error object and a non-zero exit.

let server: TestServer;
let env: Record<string, string>;
const DAY = 86_400_000;

beforeAll(async () => {
  server = await startTestServer({ env: { ...NO_REQUEST_LIMITS } });
  env = {
    DATA_DIR: server.dataDir,
    ...(server.deps.env.DATABASE_URL && { DATABASE_URL: server.deps.env.DATABASE_URL }),
  };
});
afterAll(async () => {
  await server?.close();
});

const cli = (...args: string[]) => runCli(env, ...args);
const failed = (r: { code: number | null; json: Record<string, unknown> }, status: number, error: string) => {
  expect(r.code).not.toBe(0);
  expect(r.json).toEqual({ error, status });
};

describe('settings and invite codes from the CLI', () => {
  it('get, set, reset, refuse, and take effect on the running server', async () => {
    const user = await makeUser(server);
    const [all, closed, unknown, low, notAdmin] = await Promise.all([
      cli('settings', 'get', '--json'),
      cli('settings', 'set', 'registration_open', 'false', '--json'),
      cli('settings', 'set', 'nope', '1', '--json'),
      cli('settings', 'set', 'chat_rate_messages', '0', '--json'),
      cli('settings', 'get', '--as', user.username, '--json'),
    ]);
    expect(all.code, all.stderr).toBe(0);
    expect((all.json.settings as Array<{ key: string }>).map((s) => s.key)).toContain('rtmp_plain_enabled');
    expect(closed.code, closed.stderr).toBe(0);
    expect(closed.json).toMatchObject({ key: 'registration_open', value: false, source: 'setting' });
    expect(unknown.code).not.toBe(0);
    expect(unknown.json).toMatchObject({ status: 400, error: 'Unknown setting: nope' });
    failed(low, 400, 'chat_rate_messages must be at least 1');
    failed(notAdmin, 403, 'Admin access required');

    const refusedRegistration = await api(server, 'POST', '/api/register', {
      body: { username: uniqueName('reg'), password: 'correct horse battery', invite_code: 'whatever' },
    });
    expect(refusedRegistration.status).toBe(403);
    expect(refusedRegistration.body.error).toBe('Registration is closed on this server');

    const human = await cli('settings', 'get', 'registration_open');
    expect(human.stdout).toBe('registration_open = false (default true)\n');
    const reset = await cli('settings', 'reset', 'registration_open', '--json');
    expect(reset.json).toMatchObject({ value: true, source: 'default' });
  }, 120_000);

  it('invite rotate replaces today’s code', async () => {
    const before = await cli('invite', 'today', '--json');
    const rotated = await cli('invite', 'rotate', '--json');
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.json.code).not.toBe(before.json.code);
    expect((await cli('invite', 'today', '--json')).json.code).toBe(rotated.json.code);
    const old = await api(server, 'POST', '/api/register', {
      body: { username: uniqueName('inv'), password: 'correct horse battery', invite_code: before.json.code },
    });
    expect(old.body.error).toBe('Invalid invite code');
  }, 120_000);
});

describe('retention from the CLI', () => {
  it('lists and changes policies, refusing nonsense', async () => {
    const [list, set, negative, unknown, nothing, both] = await Promise.all([
      cli('retention', 'list', '--json'),
      cli('retention', 'set', 'service_logs', '--days', '14', '--json'),
      cli('retention', 'set', 'notifications', '--days=-3', '--json'),
      cli('retention', 'set', 'emails', '--days', '3', '--json'),
      cli('retention', 'set', 'notifications', '--json'),
      cli('retention', 'set', 'notifications', '--enabled', '--disabled', '--json'),
    ]);
    expect(list.code, list.stderr).toBe(0);
    expect((list.json.policies as Array<{ kind: string }>).map((p) => p.kind)).toEqual([
      'chat_messages',
      'notifications',
      'activity_logs',
      'webhook_logs',
      'service_logs',
    ]);
    expect(set.json).toMatchObject({ kind: 'service_logs', days: 14, enabled: true, source: 'setting' });
    failed(negative, 400, 'days must be at least 1');
    expect(unknown.json).toMatchObject({ status: 400, error: 'Unknown retention kind: emails' });
    failed(nothing, 400, 'Give days, enabled or both');
    failed(both, 400, '--enabled and --disabled exclude each other');
    const off = await cli('retention', 'set', 'service_logs', '--disabled');
    expect(off.stdout).toBe('Retention: service_logs\tdisabled\n');
    expect((await cli('retention', 'reset', 'service_logs', '--json')).json).toMatchObject({
      source: 'default',
      days: 30,
    });
  }, 120_000);

  it('a dry run reports the counts a run then deletes, on the live server’s data', async () => {
    const db = server.deps.database.db;
    const { user } = await makeUser(server);
    const now = Date.now();
    await db.insert(notifications).values(
      [1, 10, 40, 41, 50].map((days, i) => ({
        userId: user.id,
        type: 'admin',
        title: `old ${i}`,
        message: 'x',
        createdAt: new Date(now - days * DAY),
      })),
    );
    const mine = async () =>
      (await db.select({ n: count() }).from(notifications).where(eq(notifications.userId, user.id)))[0]!.n;
    expect((await cli('retention', 'set', 'notifications', '--days', '30', '--json')).code).toBe(0);

    const dry = await cli('retention', 'run', '--dry-run', '--kind', 'notifications', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json).toMatchObject({
      dry_run: true,
      policies: [{ kind: 'notifications', enabled: true, days: 30, rows: { notifications: 3 }, total: 3 }],
    });
    expect(await mine()).toBe(5);
    const human = await cli('retention', 'run', '--dry-run', '--kind', 'notifications');
    expect(human.stdout).toMatch(/^notifications\twould delete 3 rows older than \d{4}-/);

    const run = await cli('retention', 'run', '--kind', 'notifications', '--json');
    expect(run.json).toMatchObject({ dry_run: false, policies: [{ kind: 'notifications', total: 3 }] });
    expect(await mine()).toBe(2);
    const unknown = await cli('retention', 'run', '--kind', 'emails', '--json');
    expect(unknown.code).not.toBe(0);
    expect(unknown.json).toMatchObject({ status: 400, error: 'Unknown retention kind: emails' });
  }, 120_000);
});

describe('the service log from the CLI', () => {
  it('shows a service’s probes, newest first', async () => {
    const service = await adminCaller(server).services.create({
      name: 'Probed',
      plugin: 'tcp_tunnel',
      host: '127.0.0.1',
      port: 9,
    });
    await recordServiceCheck(server.deps.database.db, service.id, { healthy: true, latency_ms: 1.5 });
    await recordServiceCheck(server.deps.database.db, service.id, { healthy: false, latency_ms: null });
    const checks = await cli('service', 'checks', String(service.id), '--json');
    expect(checks.code, checks.stderr).toBe(0);
    expect(checks.json).toMatchObject({
      service: { id: service.id, name: 'Probed' },
      total: 2,
      checks: [
        { healthy: false, latency_ms: null },
        { healthy: true, latency_ms: 1.5 },
      ],
    });
    failed(await cli('service', 'checks', '999999', '--json'), 404, 'Service not found');
  }, 120_000);
});
