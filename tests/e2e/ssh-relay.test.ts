import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { userConnections } from '../../src/db/schema';
import { makeTempDir, removeDir } from '../helpers/env';
import { api, makeUser, signIn } from '../helpers/identity';
import { type Message, openRelay, type RelayClient, relayRefusal, waitUntil } from '../helpers/relay-client';
import { startTestServer, type TestServer } from '../helpers/server';
import { FLOOD_BYTES, newKeyPair, type SshTestServer, startSshServer } from '../helpers/ssh-server';

// The SSH relay /ws/user-connection/{id} (API.md §6, §9; seed 002 terminal protocol) against a real
// ssh2 server: password and key auth, input/output, resize, ping, errors, ownership, host key
// trust on first use, teardown, and the per-user relay cap.

const SSH_USER = 'tester';
const SSH_PASSWORD = 'ssh-secret';
const MAX_RELAYS = 3;

let server: TestServer;
let ssh: SshTestServer;
let sshRoot: string;
const keys = newKeyPair();
const lockedKeys = newKeyPair('relay key passphrase');
const sockets = new Set<WebSocket>();

beforeAll(async () => {
  server = await startTestServer({
    env: {
      RATE_LIMIT_LOGIN: '100000',
      RATE_LIMIT_AUTH: '100000',
      WS_MAX_SOCKETS_PER_USER: String(MAX_RELAYS),
    },
  });
  sshRoot = makeTempDir();
  ssh = await startSshServer({
    root: sshRoot,
    username: SSH_USER,
    password: SSH_PASSWORD,
    publicKey: [keys.public, lockedKeys.public],
  });
});
afterAll(async () => {
  await ssh?.close();
  await server?.close();
  if (sshRoot) removeDir(sshRoot);
});
afterEach(() => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
});

async function newUser() {
  const { username, password } = await makeUser(server);
  return signIn(server, username, password);
}

async function createSsh(token: string, config: Record<string, unknown>, port = ssh.port) {
  const res = await api(server, 'POST', '/api/connections', {
    token,
    body: { name: 'box', type: 'ssh', host: '127.0.0.1', port, config: { username: SSH_USER, ...config } },
  });
  expect(res.status).toBe(200);
  return res.body.id as string;
}

const relayUrl = (id: string, token?: string) =>
  `${server.url.replace('http', 'ws')}/ws/user-connection/${id}${token ? `?token=${token}` : ''}`;

type Relay = RelayClient;
const connect = (url: string, headers: Record<string, string> = {}) =>
  openRelay(url, { headers, track: sockets });
const refusal = relayRefusal;

describe('ssh relay', () => {
  it('relays a PTY shell with password auth: input, output, resize, ping', async () => {
    const token = await newUser();
    const id = await createSsh(token, { password: SSH_PASSWORD });
    const relay = await connect(relayUrl(id, token));
    await relay.output('welcome');
    relay.send({ type: 'input', data: 'echo hello relay' });
    await relay.output('echo hello relay');
    relay.send({ type: 'resize', cols: 120, rows: 40 });
    await relay.output('[resized 120x40]');
    relay.send({ type: 'ping' });
    await relay.waitFor((m) => m.type === 'pong');
    expect(relay.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('runs one command with ?command= (ssh exec): output, stdin, exit code in the close reason', async () => {
    const token = await newUser();
    const id = await createSsh(token, { password: SSH_PASSWORD });
    const echo = await connect(`${relayUrl(id, token)}&command=${encodeURIComponent('echo hello exec')}`);
    await echo.output('hello exec');
    expect(await echo.closed).toEqual({ code: 1000, reason: 'Command exited with code 0' });
    const fail = await connect(`${relayUrl(id, token)}&command=fail`);
    await fail.output('boom');
    expect(await fail.closed).toEqual({ code: 1000, reason: 'Command exited with code 3' });
    const cat = await connect(`${relayUrl(id, token)}&command=cat`);
    cat.send({ type: 'input', data: 'typed into cat' });
    await cat.output('typed into cat');
    cat.send({ type: 'input', data: 'q' });
    expect((await cat.closed).reason).toBe('Command exited with code 0');
    expect(ssh.execSeen.slice(-3)).toEqual(['echo hello exec', 'fail', 'cat']);
    const empty = await refusal(`${relayUrl(id, token)}&command=`);
    expect(empty).toMatchObject({ status: 400, body: { error: 'command must not be empty' } });
  });

  it('authenticates with the private key stored (sealed) in the connection', async () => {
    const token = await newUser();
    const id = await createSsh(token, { auth_method: 'key', private_key: keys.private });
    const relay = await connect(relayUrl(id, token));
    await relay.output('welcome');
    relay.send({ type: 'input', data: 'key works' });
    await relay.output('key works');
  });

  it('authenticates with a passphrase-protected private key (both sealed)', async () => {
    const token = await newUser();
    const id = await createSsh(token, {
      auth_method: 'key',
      private_key: lockedKeys.private,
      passphrase: 'relay key passphrase',
    });
    const relay = await connect(relayUrl(id, token));
    await relay.output('welcome');
  });

  it('accepts the Bearer header as well as ?token=', async () => {
    const token = await newUser();
    const id = await createSsh(token, { password: SSH_PASSWORD });
    const relay = await connect(relayUrl(id), { authorization: `Bearer ${token}` });
    await relay.output('welcome');
  });

  it('answers invalid frames with an error and keeps the session', async () => {
    const token = await newUser();
    const id = await createSsh(token, { password: SSH_PASSWORD });
    const relay = await connect(relayUrl(id, token));
    await relay.output('welcome');
    relay.send('not json');
    await relay.waitFor((m) => m.type === 'error' && m.message === 'Messages must be JSON text frames');
    relay.send({ type: 'resize', cols: 0, rows: 10 });
    await relay.waitFor((m) => m.type === 'error' && m.message === 'Invalid message');
    relay.send({ type: 'launch' });
    await relay.waitFor((m) => m.type === 'error' && m.message === 'Unknown message type');
    relay.send({ type: 'input', data: 'still here' });
    await relay.output('still here');
  });

  it('reports a wrong password as an error and closes', async () => {
    const token = await newUser();
    const id = await createSsh(token, { password: 'wrong' });
    const relay = await connect(relayUrl(id, token));
    const error = await relay.waitFor((m) => m.type === 'error');
    expect(error.message).toBe(`Authentication failed for ${SSH_USER}@127.0.0.1`);
    expect((await relay.closed).code).toBe(4502);
  });

  it('reports an unreachable host as an error and closes', async () => {
    const token = await newUser();
    const id = await createSsh(token, { password: SSH_PASSWORD }, 1);
    const relay = await connect(relayUrl(id, token));
    const error = await relay.waitFor((m) => m.type === 'error');
    expect(error.message).toMatch(/^Could not connect to 127\.0\.0\.1:1/);
    expect((await relay.closed).code).toBe(4502);
  });

  it("refuses another user's connection (404), missing credentials (401) and other types (400)", async () => {
    const owner = await newUser();
    const other = await newUser();
    const id = await createSsh(owner, { password: SSH_PASSWORD });
    const notYours = await refusal(relayUrl(id, other));
    expect(notYours.status).toBe(404);
    expect(notYours.body.error).toBe('Connection not found');
    expect((await refusal(relayUrl('no-such-id', owner))).status).toBe(404);
    expect((await refusal(relayUrl(id))).status).toBe(401);
    // The http family goes through the web proxy, not a WebSocket relay.
    const web = await api(server, 'POST', '/api/connections', {
      token: owner,
      body: { name: 'w', type: 'http', host: '127.0.0.1', port: 8080 },
    });
    const notRelayed = await refusal(relayUrl(web.body.id as string, owner));
    expect(notRelayed.status).toBe(400);
    expect(notRelayed.body.error).toBe(
      `Web connections open in the embedded browser: /browser?connection=${web.body.id as string}`,
    );
  });

  it('ends the SSH session when the WebSocket closes', async () => {
    await waitUntil(() => ssh.openClients() === 0, 'earlier sessions to end');
    const token = await newUser();
    const id = await createSsh(token, { password: SSH_PASSWORD });
    const relay = await connect(relayUrl(id, token));
    await relay.output('welcome');
    expect(ssh.openClients()).toBe(1);
    relay.ws.close();
    await waitUntil(() => ssh.openClients() === 0, 'the SSH session to end');
  });

  it('closes the WebSocket when the remote shell exits', async () => {
    const token = await newUser();
    const id = await createSsh(token, { password: SSH_PASSWORD });
    const relay = await connect(relayUrl(id, token));
    await relay.output('welcome');
    relay.send({ type: 'input', data: 'exit\r' });
    expect((await relay.closed).code).toBe(1000);
  });

  it('pauses the SSH stream for a slow client instead of dropping it or buffering without bound', async () => {
    const token = await newUser();
    const id = await createSsh(token, { password: SSH_PASSWORD });
    const relay = await connect(relayUrl(id, token));
    await relay.output('welcome');
    const socket = (relay.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    let received = 0;
    const done = new Promise<void>((resolve) =>
      relay.ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString()) as Message;
        if (m.type !== 'output') return;
        received += String(m.data).split('x').length - 1;
        if (String(m.data).includes('flood done')) resolve();
      }),
    );
    socket.pause();
    relay.send({ type: 'input', data: 'flood\r' });
    await new Promise((r) => setTimeout(r, 1500));
    // Without flow control the whole flood would be queued (and the client dropped as slow).
    expect(ssh.floodWritten()).toBeLessThan(FLOOD_BYTES);
    socket.resume();
    await done;
    expect(received).toBe(FLOOD_BYTES);
    expect(relay.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('caps concurrent relays per user', async () => {
    const token = await newUser();
    const id = await createSsh(token, { password: SSH_PASSWORD });
    const open: Relay[] = [];
    for (let i = 0; i < MAX_RELAYS; i++) open.push(await connect(relayUrl(id, token)));
    await Promise.all(open.map((r) => r.output('welcome')));
    expect((await refusal(relayUrl(id, token))).status).toBe(429);
    open[0]?.ws.close();
    await open[0]?.closed;
    const again = await (async () => {
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          return await connect(relayUrl(id, token));
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw new Error('relay slot was not released');
    })();
    await again.output('welcome');
  });

  it('trusts the host key on first use and refuses a changed one', async () => {
    const root = makeTempDir();
    const other = await startSshServer({
      root,
      username: SSH_USER,
      password: SSH_PASSWORD,
      publicKey: keys.public,
    });
    try {
      const token = await newUser();
      const id = await createSsh(token, { password: SSH_PASSWORD }, other.port);
      const first = await connect(relayUrl(id, token));
      await first.output('welcome');
      first.ws.close();
      await first.closed;
      const [row] = await server.deps.database.db
        .select()
        .from(userConnections)
        .where(eq(userConnections.id, id));
      const recorded = row?.hostKeyFingerprint ?? '';
      expect(recorded).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);

      // Same key after a restart: still trusted.
      await other.restart();
      const second = await connect(relayUrl(id, token));
      await second.output('welcome');
      second.ws.close();
      await second.closed;

      await other.restart({ newHostKey: true });
      const third = await connect(relayUrl(id, token));
      const error = await third.waitFor((m) => m.type === 'error');
      expect(error.message).toMatch(
        new RegExp(
          `^Host key changed for 127\\.0\\.0\\.1: expected ${recorded.replace(/[+/]/g, '\\$&')}, got SHA256:`,
        ),
      );
      expect(error.message).not.toContain(`got ${recorded}`);
      expect((await third.closed).code).toBe(4409);
    } finally {
      await other.close();
      removeDir(root);
    }
  });
});
