import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log';
import { type RunningServer, startServer } from '../../src/server';
import { createTestDatabaseUrl } from '../helpers/database';
import { makeTempDir, removeDir, testEnv, testEnvVars } from '../helpers/env';
import { hostsFile, type Receiver, receiverSkipReason, startReceiver } from '../helpers/https-receiver';
import { api, signIn } from '../helpers/identity';
import { waitFor } from '../helpers/portal-client';
import { type Json, ok, refused, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { runToExit, type SpawnedServer, spawnServer } from '../helpers/spawn';

// What must hold when things go wrong: with the production default (no loopback receivers) a
// private target is refused when saved and again at delivery, where a name that resolved to a
// public address at creation now points at loopback (DNS rebinding, through the test-only hosts
// file); and an event enqueued by a server that is then killed is delivered by the next start on
// the same DATA_DIR and database.

const skipReason = receiverSkipReason();
if (skipReason) console.warn(`Skipping the webhook durability tests: ${skipReason}`);

let receiver: Receiver;
beforeAll(async () => {
  if (!skipReason) receiver = await startReceiver();
});
afterAll(() => receiver?.close());

const verifies = (secret: string, r: { body: string; headers: Record<string, string> }) =>
  r.headers['x-portal-signature'] === `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`;

describe.skipIf(skipReason !== undefined)('SSRF with the strict default', () => {
  let server: TestServer;
  const hosts = hostsFile();
  const { person } = roomKit(() => server);
  beforeAll(async () => {
    server = await startTestServer({
      env: {
        ...NO_REQUEST_LIMITS,
        WEBHOOK_TEST_CA_FILE: receiver.caFile,
        WEBHOOK_TEST_HOSTS_FILE: hosts.path,
        WEBHOOK_POLL_INTERVAL_MS: '100',
      },
    });
  });
  afterAll(async () => {
    await server?.close();
    removeDir(join(hosts.path, '..'));
  });

  it('refuses loopback and private targets when a webhook is saved', async () => {
    const admin = await person(2);
    hosts.set({ 'rebind.test': '127.0.0.1' });
    const post = (url: string) =>
      api(server, 'POST', '/api/webhooks', {
        token: admin.token,
        body: { name: 'private', type: 'outgoing', url, events: ['message.created'] },
      });
    for (const url of [
      receiver.url('/p', 'localhost'),
      receiver.url('/p'),
      `https://[::1]:${receiver.port}/p`,
      `https://[::ffff:127.0.0.1]:${receiver.port}/p`,
      receiver.url('/p', 'rebind.test'),
      'https://192.168.1.10/p',
    ]) {
      await refused(post(url), 400, 'This address is not allowed');
    }
  });

  it('checks the address again at delivery: a name rebound to loopback is never connected to', async () => {
    const admin = await person(2);
    hosts.set({ 'rebind.test': '93.184.215.14' });
    const hook = await ok(
      api(server, 'POST', '/api/webhooks', {
        token: admin.token,
        body: {
          name: 'rebind',
          type: 'outgoing',
          url: receiver.url('/rebind', 'rebind.test'),
          events: ['stream.live'],
        },
      }),
    );
    hosts.set({ 'rebind.test': '127.0.0.1' });
    await ok(api(server, 'POST', `/api/webhooks/${hook.id}/test`, { token: admin.token }));
    const logs = async () =>
      (await ok(api(server, 'GET', `/api/webhooks/${hook.id}/deliveries`, { token: admin.token })))
        .deliveries as Json[];
    await waitFor(async () => (await logs()).length >= 1, 'the refused attempt');
    expect((await logs()).at(-1)).toMatchObject({
      attempt: 1,
      success: false,
      response_status: null,
      error: 'Refused: This address is not allowed',
      status: 'pending',
    });
    expect(receiver.received('/rebind')).toEqual([]);
    await refused(
      api(server, 'PUT', `/api/webhooks/${hook.id}`, {
        token: admin.token,
        body: { url: receiver.url('/rebind', 'localhost') },
      }),
      400,
      'This address is not allowed',
    );
  });
});

describe.skipIf(skipReason !== undefined)('a server killed between enqueue and delivery', () => {
  let spawned: SpawnedServer | undefined;
  let restarted: RunningServer | undefined;
  afterEach(async () => {
    if (spawned && spawned.proc.exitCode === null) await spawned.kill('SIGKILL');
    await restarted?.stop();
  });

  it('delivers the event after a restart on the same DATA_DIR and database', async () => {
    const dataDir = makeTempDir();
    const database = await createTestDatabaseUrl();
    const shared = {
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      WEBHOOK_TEST_CA_FILE: receiver.caFile,
      WEBHOOK_TEST_ALLOW_LOOPBACK: 'true',
      WEBHOOK_POLL_INTERVAL_MS: '100',
    };
    try {
      // The first server enqueues but never delivers: delivery is off on it.
      spawned = await spawnServer({ ...shared, WEBHOOK_DELIVERY_ENABLED: 'false' });
      const username = `killed_${process.pid}`;
      const password = 'correct horse battery';
      const made = await runToExit(
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'user',
          'create',
          username,
          '--password',
          password,
          '--level',
          '2',
          '--json',
        ],
        testEnvVars(shared),
      );
      expect(made.code, made.stdout + made.stderr).toBe(0);
      const node = { url: spawned.url } as TestServer;
      const token = await signIn(node, username, password);
      const path = '/after-crash';
      const hook = await ok(
        api(node, 'POST', '/api/webhooks', {
          token,
          body: { name: 'durable', type: 'outgoing', url: receiver.url(path), events: ['message.created'] },
        }),
      );
      const channels = await ok(api(node, 'GET', '/api/chat/channels', { token }));
      const general = (channels.channels as Json[]).find((c) => c.name === 'general')!;
      const incoming = await ok(
        api(node, 'POST', '/api/webhooks', {
          token,
          body: { name: 'Nightly', type: 'incoming', channel_id: general.id },
        }),
      );
      const posted = await ok(
        api(node, 'POST', `/api/hooks/${incoming.token}`, { body: { content: 'survives the crash' } }),
      );
      expect(receiver.received(path)).toEqual([]);
      // Operators see both through the admin CLI (the running server's admin channel on PGlite).
      const listed = await runToExit(
        ['--import', 'tsx', 'src/cli/main.ts', 'webhook', 'list', '--json'],
        testEnvVars(shared),
      );
      expect(listed.code, listed.stderr).toBe(0);
      expect((JSON.parse(listed.stdout).webhooks as Json[]).map((w) => [w.name, w.owner_username])).toEqual([
        ['durable', username],
        ['Nightly', username],
      ]);
      await spawned.kill('SIGKILL');

      restarted = await startServer(testEnv(shared), { log: createLogger('silent') });
      await waitFor(() => receiver.received(path).length >= 1, 'the delivery after the restart', 30_000);
      const [got] = receiver.received(path);
      expect(verifies(hook.secret, got!)).toBe(true);
      expect(JSON.parse(got!.body)).toMatchObject({
        event: 'message.created',
        data: {
          message_id: posted.message_id,
          channel_id: general.id,
          channel_name: 'general',
          user_id: null,
          username: 'Nightly',
          content: 'survives the crash',
          webhook_id: incoming.id,
        },
      });
    } finally {
      await restarted?.stop();
      restarted = undefined;
      await database.drop();
      removeDir(dataDir);
    }
  }, 120_000);
});
