import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adminSocketPath } from '../../src/cli/admin-channel';
import { runtime } from '../../src/core/env';
import { loadSecretKey } from '../../src/core/secret-key';
import { inviteCodeFor } from '../../src/services/auth/invite-code';
import { runCli } from '../helpers/cli';
import { createDatabaseOn, postgresReachable } from '../helpers/database';
import { makeTempDir, removeDir } from '../helpers/env';
import { type SpawnedServer, spawnServer } from '../helpers/spawn';

// The admin CLI as operators run it (`npm run admin -- ...`): its own process, against the same
// DATA_DIR as a running server (through DATA_DIR/admin.sock), against the embedded database with
// the server stopped (in-process), and against PostgreSQL next to a running server.

const dirs: string[] = [];
const servers: SpawnedServer[] = [];
afterAll(async () => {
  for (const s of servers) if (s.proc.exitCode === null) await s.kill('SIGKILL');
  for (const d of dirs) removeDir(d);
});

const dataDirFor = () => {
  const dir = makeTempDir();
  dirs.push(dir);
  return join(dir, 'data');
};
const start = async (env: Record<string, string>) => {
  const server = await spawnServer(env);
  servers.push(server);
  return server;
};

const cli = runCli;

const signIn = (url: string, username: string, password: string) =>
  fetch(`${url}/api/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });

const pgUrl = runtime.testDatabaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const hasPostgres = await postgresReachable(pgUrl);
if (!hasPostgres) console.warn(`skipping the admin CLI on PostgreSQL: no server answers at ${pgUrl}`);

describe('admin CLI on the embedded database', () => {
  const dataDir = dataDirFor();
  const env = { DATA_DIR: dataDir };
  const password = 'correct horse battery';

  it('goes through the running server’s admin channel while the server holds the database', async () => {
    const server = await start(env);
    const socket = statSync(adminSocketPath(dataDir));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);

    const alice = await cli(env, 'user', 'create', 'alice', '--password', password, '--json');
    expect(alice.code, alice.stderr).toBe(0);
    expect(alice.json).toMatchObject({ id: expect.any(Number), username: 'alice', permission_level: 0 });
    expect((await signIn(server.url, 'alice', password)).status).toBe(200);

    const [bot, bob, carol, dave] = await Promise.all([
      cli(env, 'bot', 'create', 'mybot', '--json'),
      cli(env, 'user', 'create', 'bob', '--json'),
      cli(env, 'user', 'create', 'carol', '--level', '2', '--json'),
      cli(env, 'user', 'create', 'dave', '--level', '2', '--json'),
    ]);
    expect(Object.keys(bot.json).sort()).toEqual(['api_key', 'id', 'name']);
    expect(bot.json).toMatchObject({
      id: expect.any(Number),
      name: 'mybot',
      api_key: expect.stringMatching(/^pbot_/),
    });
    for (const created of [bob, carol, dave]) expect(created.code, created.stderr).toBe(0);

    const banned = await cli(env, 'user', 'ban', 'alice', '--reason', 'spam', '--json');
    expect(banned.code, banned.stderr).toBe(0);
    expect(banned.json).toMatchObject({ user: { username: 'alice', state: 2, state_reason: 'spam' } });
    const refused = await signIn(server.url, 'alice', password);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'Your account has been banned', reason: 'spam' });

    const [missing, notAdmin, adminOnAdmin, invite, health] = await Promise.all([
      cli(env, 'user', 'ban', 'nosuchuser', '--json'),
      cli(env, 'user', 'warn', 'alice', '--as', 'bob', '--json'),
      cli(env, 'user', 'ban', 'dave', '--as', 'carol', '--json'),
      cli(env, 'invite', 'today', '--json'),
      cli(env, 'health', '--json'),
    ]);
    // Through the admin channel, `health` describes the server process, not the CLI's.
    expect(health.code, health.stderr).toBe(0);
    expect(health.json).toMatchObject({
      process: { pid: server.proc.pid },
      database: { kind: 'pglite', state: 'ok', latency_ms: expect.any(Number) },
      bus: { kind: 'local', state: 'ok', latency_ms: expect.any(Number) },
    });
    expect(missing.code).not.toBe(0);
    expect(missing.json).toEqual({ error: 'User not found', status: 404 });
    expect(notAdmin.code).not.toBe(0);
    expect(notAdmin.json).toEqual({ error: 'Admin access required', status: 403 });
    expect(adminOnAdmin.code).not.toBe(0);
    expect(adminOnAdmin.json).toEqual({ error: 'You can only act on users below your level', status: 403 });
    expect(invite.code, invite.stderr).toBe(0);
    const { key } = loadSecretKey(undefined, dataDir);
    expect(invite.json).toEqual({ code: inviteCodeFor(key), date: new Date().toISOString().slice(0, 10) });

    // The server did the work: each call is on its log, attributed to the actor.
    const channelLines = server.logs.filter(
      (l) => l.component === 'admin-channel' && l.msg !== 'admin channel listening',
    );
    expect(
      channelLines.some((l) => l.path === 'users.ban' && l.as === 'system' && l.msg === 'admin command'),
    ).toBe(true);
    expect(channelLines.some((l) => l.path === 'users.warn' && l.as === 'bob' && l.status === 403)).toBe(
      true,
    );

    expect(await server.kill('SIGTERM')).toBe(0);
    expect(existsSync(adminSocketPath(dataDir))).toBe(false);
  }, 240_000);

  it('opens the database itself when no server runs', async () => {
    const unban = await cli(env, 'user', 'unban', 'alice', '--reason', 'appeal', '--json');
    expect(unban.code, unban.stderr).toBe(0);
    expect(unban.json).toMatchObject({ user: { username: 'alice', state: 0 } });

    const audit = await cli(env, 'audit', '--limit', '3', '--json');
    const entries = audit.json.entries as Array<Record<string, unknown>>;
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({
      action: 'user.unban',
      actor: 'system',
      target_type: 'user',
      reason: 'appeal',
    });

    const human = await cli(env, 'invite', 'today');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^Invite code for \d{4}-\d{2}-\d{2} \(UTC\): [0-9A-F]{10}\n$/);

    // System health (API.md §10): CPU, memory, disk, the process, and database and bus latency.
    const health = await cli(env, 'health', '--json');
    expect(health.code, health.stderr).toBe(0);
    expect(health.json).toMatchObject({
      process: {
        pid: expect.any(Number),
        uptime_seconds: expect.any(Number),
        memory: { rss_bytes: expect.any(Number), heap_used_bytes: expect.any(Number) },
        cpu_percent: expect.any(Number),
      },
      cpu: { count: expect.any(Number), load_average: { '1m': expect.any(Number) } },
      memory: { total_bytes: expect.any(Number), free_bytes: expect.any(Number) },
      disk: { free_bytes: expect.any(Number), total_bytes: expect.any(Number) },
      database: { kind: 'pglite', state: 'ok', latency_ms: expect.any(Number) },
      bus: { kind: 'local', state: 'ok', latency_ms: expect.any(Number) },
    });
    const readable = await cli(env, 'health');
    expect(readable.code, readable.stderr).toBe(0);
    expect(readable.stdout.split('\n').map((line) => line.split(/\s+/)[0])).toEqual([
      'status',
      'process',
      '', // the process's second line
      'cpu',
      'memory',
      'disk',
      'database',
      'bus',
      'sockets',
      '',
    ]);
    expect(readable.stdout).toMatch(/^database +ok \([\d.]+ ms\), pglite, /m);

    // Announcements: create (expiring), list, delete; a second delete finds nothing.
    const made = await cli(
      env,
      'announce',
      'create',
      '--title',
      'Maintenance',
      '--message',
      'At 10',
      '--days',
      '2',
      '--json',
    );
    expect(made.code, made.stderr).toBe(0);
    expect(made.json).toMatchObject({ id: expect.any(Number), title: 'Maintenance', message: 'At 10' });
    const listed = await cli(env, 'announce', 'list', '--json');
    expect(listed.json.announcements).toEqual([expect.objectContaining({ id: made.json.id, active: true })]);
    const deleted = await cli(env, 'announce', 'delete', String(made.json.id), '--json');
    expect(deleted.json).toEqual({ id: made.json.id, deleted: true });
    const twice = await cli(env, 'announce', 'delete', String(made.json.id), '--json');
    expect(twice.code).not.toBe(0);
    expect(twice.json).toEqual({ error: 'Announcement not found', status: 404 });

    const usage = await cli(env, 'user', 'timeout', 'alice', '--minutes', 'soon', '--json');
    expect(usage.code).not.toBe(0);
    expect(usage.json).toMatchObject({
      status: 400,
      error: expect.stringContaining('must be a whole number'),
    });
  }, 120_000);
});

describe('admin CLI on PostgreSQL', () => {
  it.skipIf(!hasPostgres)(
    'runs in-process next to a running server on the same database',
    async () => {
      const database = await createDatabaseOn(pgUrl);
      try {
        const dataDir = dataDirFor();
        const env = { DATA_DIR: dataDir, DATABASE_URL: database.url };
        const server = await start(env);
        // PostgreSQL admits every process: no admin channel is needed or opened.
        expect(existsSync(adminSocketPath(dataDir))).toBe(false);

        const created = await cli(
          env,
          'user',
          'create',
          'pguser',
          '--password',
          'correct horse battery',
          '--json',
        );
        expect(created.code, created.stderr).toBe(0);
        expect((await signIn(server.url, 'pguser', 'correct horse battery')).status).toBe(200);

        const trial = await cli(
          env,
          'subscription',
          'grant',
          'pguser',
          '--tier',
          'trial',
          '--days',
          '30',
          '--json',
        );
        expect(trial.code, trial.stderr).toBe(0);
        const expires = (trial.json.subscription as { subscription_expires_at: string })
          .subscription_expires_at;
        expect(Math.abs(new Date(expires).getTime() - (Date.now() + 7 * 86_400_000))).toBeLessThan(120_000);
        const again = await cli(env, 'subscription', 'grant', 'pguser', '--tier', 'trial', '--json');
        expect(again.code).not.toBe(0);
        expect(again.json).toEqual({ error: 'Trial already granted', status: 409 });

        expect(await server.kill('SIGTERM')).toBe(0);
      } finally {
        await database.drop();
      }
    },
    180_000,
  );
});
