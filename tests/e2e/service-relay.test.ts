import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { invokeAdmin } from '../../src/cli/invoke';
import { services } from '../../src/db/schema';
import { MuxOp, muxFrame } from '../../src/realtime/relay/mux';
import { dumpAllTables } from '../helpers/database';
import { makeTempDir, removeDir } from '../helpers/env';
import { api, makeUser, signIn } from '../helpers/identity';
import { openRelay, relayRefusal, waitUntil } from '../helpers/relay-client';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { newKeyPair, type SshTestServer, startSshServer } from '../helpers/ssh-server';

// The service relays /ws/{plugin}/{service_id}?token= (API.md §9, seed 002 "WebSocket Service
// Relay") against real peers: a TCP echo server (vnc, tunnel, secure_tunnel), an ssh2 server (ssh
// with the service's sealed login) and a PTY on this host (terminal, /bin/sh); scope visibility,
// plugin/path matching, the admin-only terminal, the per-user cap shared with user connections,
// and the idle timeout of every relay kind.

const SSH_USER = 'tester';
const SSH_PASSWORD = 'service-ssh-secret-42';
const SHELL = '/bin/sh';
const MAX_RELAYS = 3;

let server: TestServer;
let ssh: SshTestServer;
let sshRoot: string;
let echo: net.Server;
let echoPort: number;
const keys = newKeyPair();
const sockets = new Set<WebSocket>();

const listen = (srv: net.Server) =>
  new Promise<number>((resolve) =>
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)),
  );

beforeAll(async () => {
  server = await startTestServer({
    env: {
      ...NO_REQUEST_LIMITS,
      RATE_LIMIT_ADMIN: '100000',
      WS_MAX_SOCKETS_PER_USER: String(MAX_RELAYS),
      TERMINAL_ENABLED: 'true',
      TERMINAL_SHELL: SHELL,
    },
  });
  sshRoot = makeTempDir();
  ssh = await startSshServer({
    root: sshRoot,
    username: SSH_USER,
    password: SSH_PASSWORD,
    publicKey: keys.public,
  });
  echo = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', (chunk) => s.write(chunk));
  });
  echoPort = await listen(echo);
});
afterAll(async () => {
  await ssh?.close();
  await new Promise((r) => echo?.close(r));
  await server?.close();
  if (sshRoot) removeDir(sshRoot);
});
afterEach(() => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
});

const admin = <T = Record<string, unknown>>(s: TestServer, path: string, input?: unknown) =>
  invokeAdmin(s.deps, { path, input }) as Promise<T>;

async function newUser(s = server, opts: { level?: number; scopes?: string } = {}) {
  const { username, password } = await makeUser(s, { level: opts.level ?? 0 });
  if (opts.scopes !== undefined) await admin(s, 'users.setScopes', { username, scopes: opts.scopes });
  return signIn(s, username, password);
}

async function createService(s: TestServer, fields: Record<string, unknown>) {
  return (await admin<{ id: number }>(s, 'services.create', { name: uniqueName(), ...fields })).id;
}
let names = 0;
const uniqueName = () => `svc ${++names}`;

const url = (s: TestServer, plugin: string, id: number | string, token?: string) =>
  `${s.url.replace('http', 'ws')}/ws/${plugin}/${id}${token ? `?token=${token}` : ''}`;
const open = (u: string) => openRelay(u, { track: sockets });

describe('service relays', () => {
  it('relays vnc, tunnel and tcp_tunnel services as raw TCP', async () => {
    const token = await newUser();
    const vnc = await createService(server, { plugin: 'vnc', host: '127.0.0.1', port: echoPort });
    const tunnel = await createService(server, { plugin: 'tunnel', host: '127.0.0.1', port: echoPort });
    for (const [plugin, id] of [
      ['vnc', vnc],
      ['tunnel', tunnel],
      ['tcp_tunnel', tunnel],
    ] as const) {
      const relay = await open(url(server, plugin, id, token));
      const input = randomBytes(200 * 1024);
      // Frames stay under WS_MAX_PAYLOAD_BYTES (64 KiB).
      for (let at = 0; at < input.length; at += 32 * 1024) relay.send(input.subarray(at, at + 32 * 1024));
      expect((await relay.bytes(input.length)).equals(input), plugin).toBe(true);
      relay.ws.close();
      await relay.closed;
    }
  });

  it('multiplexes streams on /ws/secure_tunnel/{id}', async () => {
    const token = await newUser();
    const id = await createService(server, { plugin: 'secure_tunnel', host: '127.0.0.1', port: echoPort });
    const relay = await open(url(server, 'secure_tunnel', id, token));
    for (const sid of [1, 2]) relay.send(muxFrame(MuxOp.OPEN, sid));
    await waitUntil(() => relay.binary.filter((f) => f[0] === MuxOp.OPEN).length === 2, 'two OPEN acks');
    relay.send(muxFrame(MuxOp.DATA, 2, Buffer.from('two')));
    relay.send(muxFrame(MuxOp.DATA, 1, Buffer.from('one')));
    const dataOf = (sid: number) =>
      Buffer.concat(
        relay.binary
          .filter((f) => f[0] === MuxOp.DATA && f.readUInt32BE(1) === sid)
          .map((f) => f.subarray(5)),
      ).toString();
    await waitUntil(() => dataOf(1) === 'one' && dataOf(2) === 'two', 'both echoes');
  });

  it('opens ssh services with the login the admin stored, sealed, and trusts the host key on first use', async () => {
    const token = await newUser();
    const id = await createService(server, {
      plugin: 'ssh',
      host: '127.0.0.1',
      port: ssh.port,
      login: { username: SSH_USER, password: SSH_PASSWORD },
    });
    const relay = await open(url(server, 'ssh', id, token));
    await relay.output('welcome');
    relay.send({ type: 'resize', cols: 120, rows: 40 });
    await relay.output('[resized 120x40]');
    relay.send({ type: 'input', data: 'through a service' });
    await relay.output('through a service');
    relay.send({ type: 'ping' });
    await relay.waitFor((m) => m.type === 'pong');

    const [row] = await server.deps.database.db.select().from(services).where(eq(services.id, id));
    expect(row?.hostKeyFingerprint).toMatch(/^SHA256:/);
    expect(row?.hostKeyEndpoint).toBe(`127.0.0.1:${ssh.port}`);
    const listed = await admin<{ services: Array<Record<string, unknown>> }>(server, 'services.list');
    expect(listed.services.find((s) => s.id === id)?.login).toEqual({
      username: SSH_USER,
      has_password: true,
      has_private_key: false,
      has_passphrase: false,
    });
    expect(await dumpAllTables(server.deps.database)).not.toContain(SSH_PASSWORD);
    // Users never see the login, nor the backend address.
    const seen = await api(server, 'GET', `/api/services/${id}`, { token });
    expect(JSON.stringify(seen.body)).not.toContain(SSH_USER);
    expect(seen.body).not.toHaveProperty('host');
  });

  it('refuses an ssh service without a login, and a login on other plugins', async () => {
    const token = await newUser();
    const id = await createService(server, { plugin: 'ssh', host: '127.0.0.1', port: ssh.port });
    const refused = await relayRefusal(url(server, 'ssh', id, token));
    expect(refused).toMatchObject({
      status: 400,
      body: { error: 'This SSH service has no login configured' },
    });
    await expect(
      admin(server, 'services.create', {
        name: 'x',
        plugin: 'vnc',
        host: 'h',
        port: 5900,
        login: { username: 'u' },
      }),
    ).rejects.toMatchObject({ message: 'login is only used by ssh services' });
    await expect(
      admin(server, 'services.update', { id, login: { password: 'only a password' } }),
    ).rejects.toMatchObject({ message: 'login.username is required' });
  });

  it('refuses hidden, disabled, unknown and mismatched services, and missing credentials', async () => {
    const serversOnly = await newUser(server, { scopes: 'access:servers' });
    const hidden = await createService(server, {
      plugin: 'vnc',
      host: '127.0.0.1',
      port: echoPort,
      category: 'desktops',
    });
    const disabled = await createService(server, {
      plugin: 'vnc',
      host: '127.0.0.1',
      port: echoPort,
      enabled: false,
    });
    const notFound = await relayRefusal(url(server, 'vnc', hidden, serversOnly));
    expect(notFound).toMatchObject({ status: 404, body: { error: 'Service not found', status: 404 } });
    const all = await newUser();
    expect((await relayRefusal(url(server, 'vnc', disabled, all))).status).toBe(404);
    expect((await relayRefusal(url(server, 'vnc', 999_999, all))).status).toBe(404);
    expect((await relayRefusal(url(server, 'vnc', 'abc', all))).status).toBe(404);
    const unknown = await relayRefusal(url(server, 'telnet', hidden, all));
    expect(unknown).toMatchObject({ status: 404, body: { error: 'Unknown relay plugin' } });
    const mismatch = await relayRefusal(url(server, 'ssh', hidden, all));
    expect(mismatch).toMatchObject({
      status: 400,
      body: { error: 'This service uses the vnc plugin, not ssh' },
    });
    expect((await relayRefusal(url(server, 'vnc', hidden))).status).toBe(401);
  });

  it('names a service, not its backend address, when it cannot be reached', async () => {
    const token = await newUser();
    const probe = net.createServer();
    const port = await listen(probe);
    await new Promise((r) => probe.close(r));
    const id = await (async () =>
      (
        await admin<{ id: number }>(server, 'services.create', {
          name: 'Lab VNC',
          plugin: 'vnc',
          host: '127.0.0.1',
          port,
        })
      ).id)();
    const relay = await open(url(server, 'vnc', id, token));
    const error = await relay.waitFor((m) => m.type === 'error');
    expect(error.message).toBe('Could not connect to the Lab VNC service: ECONNREFUSED');
    expect((await relay.closed).code).toBe(4502);
  });

  it('counts service relays and user-connection relays against one per-user cap', async () => {
    const token = await newUser();
    const id = await createService(server, { plugin: 'tunnel', host: '127.0.0.1', port: echoPort });
    const conn = await api(server, 'POST', '/api/connections', {
      token,
      body: { name: 't', type: 'tcp_tunnel', host: '127.0.0.1', port: echoPort },
    });
    const open1 = await open(
      `${server.url.replace('http', 'ws')}/ws/user-connection/${conn.body.id}?token=${token}`,
    );
    const rest = [];
    for (let i = 1; i < MAX_RELAYS; i++) rest.push(await open(url(server, 'tunnel', id, token)));
    // Refused at the upgrade (429), or, when two upgrades race, closed 4429 as soon as it opens.
    const over = await open(url(server, 'tunnel', id, token)).then(
      async (r) => (await r.closed).code,
      (err: { status?: number }) => err.status,
    );
    expect([429, 4429]).toContain(over);
    open1.ws.close();
    await open1.closed;
    await waitUntil(() => server.transport.connectionCount() <= MAX_RELAYS - 1, 'the slot to free');
    const again = await (async () => {
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          return await open(url(server, 'tunnel', id, token));
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw new Error('relay slot was not released');
    })();
    again.send(Buffer.from('ok'));
    expect((await again.bytes(2)).toString()).toBe('ok');
  });
});

describe.skipIf(!existsSync(SHELL))('terminal plugin', () => {
  it('runs a shell on the Portal host for an admin: input, output, resize, ping', async () => {
    const token = await newUser(server, { level: 2 });
    const id = await createService(server, { plugin: 'terminal' });
    const relay = await open(url(server, 'terminal', id, token));
    relay.send({ type: 'resize', cols: 100, rows: 30 });
    relay.send({ type: 'input', data: 'echo "sum=$((40+2))"\r' });
    await relay.output('sum=42', 10_000);
    relay.send({ type: 'input', data: 'stty size\r' });
    await relay.output('30 100', 10_000);
    relay.send({ type: 'resize', cols: 90, rows: 20 });
    relay.send({ type: 'input', data: 'stty size\r' });
    await relay.output('20 90', 10_000);
    // Portal's own configuration never reaches the shell.
    relay.send({ type: 'input', data: 'echo "key=[$PORTAL_SECRET_KEY]"\r' });
    await relay.output('key=[]', 10_000);
    relay.send({ type: 'ping' });
    await relay.waitFor((m) => m.type === 'pong');
    relay.send({ type: 'input', data: 'exit\r' });
    expect((await relay.closed).code).toBe(1000);
  });

  it('refuses users below Admin', async () => {
    const token = await newUser();
    const id = await createService(server, { plugin: 'terminal' });
    expect(await relayRefusal(url(server, 'terminal', id, token))).toMatchObject({
      status: 403,
      body: { error: 'Admin access required', status: 403 },
    });
  });

  it('reports the terminal as healthy while it is enabled', async () => {
    const token = await newUser();
    const id = await createService(server, { plugin: 'terminal' });
    const health = await api(server, 'GET', `/api/services/${id}/health`, { token });
    expect(health.body).toEqual({ healthy: true, latency_ms: 0 });
  });
});

describe('relay limits on a server with the terminal off and a 1 s idle timeout', () => {
  let quiet: TestServer;
  beforeAll(async () => {
    quiet = await startTestServer({
      env: { ...NO_REQUEST_LIMITS, RATE_LIMIT_ADMIN: '100000', RELAY_IDLE_TIMEOUT_SECONDS: '1' },
    });
  });
  afterAll(async () => {
    await quiet?.close();
  });

  it('refuses the terminal plugin while it is disabled, even to the owner', async () => {
    const token = await newUser(quiet, { level: 3 });
    const id = await createService(quiet, { plugin: 'terminal' });
    expect(await relayRefusal(url(quiet, 'terminal', id, token))).toMatchObject({
      status: 403,
      body: { error: 'The terminal plugin is disabled on this server' },
    });
  });

  it('closes idle ssh, raw and multiplexed relays with 4408 and ends their backends', async () => {
    const token = await newUser(quiet);
    const create = async (body: Record<string, unknown>) =>
      (await api(quiet, 'POST', '/api/connections', { token, body })).body.id as string;
    const sshId = await create({
      name: 's',
      type: 'ssh',
      host: '127.0.0.1',
      port: ssh.port,
      config: { username: SSH_USER, password: SSH_PASSWORD },
    });
    const tcpId = await create({ name: 't', type: 'tcp_tunnel', host: '127.0.0.1', port: echoPort });
    const base = `${quiet.url.replace('http', 'ws')}/ws/user-connection`;
    await waitUntil(() => ssh.openClients() === 0, 'earlier ssh sessions to end', 10_000);
    const sshRelay = await open(`${base}/${sshId}?token=${token}`);
    await sshRelay.output('welcome');
    const raw = await open(`${base}/${tcpId}?token=${token}`);
    const mux = await open(`${base}/${tcpId}?token=${token}&mux=1`);
    mux.send(muxFrame(MuxOp.OPEN, 1));
    for (const relay of [sshRelay, raw, mux]) {
      expect(await relay.closed).toEqual({ code: 4408, reason: 'Idle timeout' });
    }
    await waitUntil(() => ssh.openClients() === 0, 'the SSH session to end', 10_000);
  });
});
