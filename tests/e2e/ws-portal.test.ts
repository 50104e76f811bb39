import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../../src/core/log';
import { registerPortalHub } from '../../src/realtime/portal/hub';
import { ONLINE_USERS_SET, PRESENCE_TOPIC } from '../../src/realtime/portal/protocol';
import { createTransport } from '../../src/realtime/transport';
import type { RunningServer } from '../../src/server';
import { createApiKey } from '../../src/services/auth/api-keys';
import { createSession } from '../../src/services/auth/sessions';
import { notify } from '../../src/services/notifications/notify';
import { type Cluster, clusterSkipReason, startCluster } from '../helpers/cluster';
import { testEnvVars } from '../helpers/env';
import { api, makeUser, uniqueName } from '../helpers/identity';
import { closePortalClients, openPortal as open, waitFor } from '../helpers/portal-client';
import { adminCaller, startTestServer, type TestServer } from '../helpers/server';
import { runToExit } from '../helpers/spawn';

// /ws/portal as clients use it (API.md §9): real sockets against a real server and database.
// Authentication by ?token=, Bearer, cookie and first message; notification fan-out, targeted
// and broadcast; limits; presence; and, with PostgreSQL and Redis, delivery across two nodes.

/** The HTTP refusal of an upgrade: status and the contract's error body. */
async function refusal(url: string, headers: Record<string, string> = {}) {
  try {
    await open(url, headers);
  } catch (err) {
    const { status, body } = err as { status?: number; body?: string };
    if (status === undefined) throw err;
    return { status, body: JSON.parse(body ?? '{}') as Record<string, unknown> };
  }
  throw new Error('upgrade was accepted');
}

const wsUrl = (server: { url: string }) => `${server.url.replace('http', 'ws')}/ws/portal`;

afterEach(closePortalClients);

const adminOf = (server: RunningServer) => adminCaller(server);

// The hub only sees the transport wrapper; both transports must carry it the same way.
describe.each(['uws', 'ws'] as const)('/ws/portal on one node (%s transport)', (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      env: {
        WS_TRANSPORT: kind,
        RATE_LIMIT_LOGIN: '100000',
        RATE_LIMIT_AUTH: '100000',
        RATE_LIMIT_ADMIN: '100000',
      },
    });
    expect(server.transport.kind).toBe(kind);
  });
  afterAll(() => server?.close());
  // Every test starts with nobody online, so presence counts are exact.
  afterEach(async () => {
    await closePortalClients();
    await waitFor(
      async () => (await server.deps.bus.presenceCount(ONLINE_USERS_SET)) === 0,
      'presence to empty',
    );
  });

  const db = () => server.deps.database.db;
  const push = () => ({ db: db(), bus: server.deps.bus, log: server.deps.log });

  async function member() {
    const made = await makeUser(server);
    const session = await createSession(db(), server.deps.secretKey, { user: made.user, method: 'password' });
    return { ...made, id: made.user.id, token: session.token, jwt: session.jwt };
  }

  /** A socket authenticated by ?token=, past its `ready` message. */
  async function connected(token: string) {
    const client = await open(`${wsUrl(server)}?token=${encodeURIComponent(token)}`);
    const ready = await client.next();
    expect(ready.type).toBe('ready');
    return client;
  }

  const sendNotification = (userIds: number[], title: string) =>
    notify(push(), { userIds, type: 'mention', title, message: `${title}!` });

  it('authenticates by ?token= (session token or JWT), Bearer header and cookie, then says ready', async () => {
    const me = await member();
    await sendNotification([me.id], 'unread before connecting');
    for (const client of [
      await open(`${wsUrl(server)}?token=${me.token}`),
      await open(`${wsUrl(server)}?token=${me.jwt}`),
      await open(wsUrl(server), { authorization: `Bearer ${me.jwt}` }),
      await open(wsUrl(server), { cookie: `portal_session=${me.token}` }),
      await open(wsUrl(server), {
        cookie: `portal_session=${me.token}`,
        origin: server.url,
      }),
    ]) {
      expect(await client.next()).toEqual({
        type: 'ready',
        user: { id: me.id, username: me.username },
        unread_count: 1,
      });
    }
  });

  it('refuses bad credentials, banned users and cross-site cookies', async () => {
    expect(await refusal(`${wsUrl(server)}?token=not-a-token`)).toMatchObject({
      status: 401,
      body: { error: 'Invalid or expired token', status: 401 },
    });
    expect((await refusal(wsUrl(server), { authorization: 'Bearer portal_nope' })).status).toBe(401);

    const me = await member();
    expect(
      await refusal(wsUrl(server), { cookie: `portal_session=${me.token}`, origin: 'https://evil.example' }),
    ).toMatchObject({ status: 403, body: { error: 'Cross-site request refused' } });

    const banned = await member();
    const { key } = await createApiKey(db(), {
      userId: banned.id,
      name: 'k',
      scopes: '*',
      expiresInDays: null,
    });
    await adminOf(server).users.ban({ username: banned.username, reason: 'spam' });
    expect(await refusal(`${wsUrl(server)}?token=${key}`)).toMatchObject({
      status: 403,
      body: { error: 'Your account has been banned', reason: 'spam' },
    });
    // Banning ended the sessions, so the old token is simply invalid now.
    expect((await refusal(`${wsUrl(server)}?token=${banned.token}`)).status).toBe(401);

    const scoped = await member();
    const readOnly = await createApiKey(db(), {
      userId: scoped.id,
      name: 'k',
      scopes: 'users:read',
      expiresInDays: null,
    });
    expect((await refusal(`${wsUrl(server)}?token=${readOnly.key}`)).status).toBe(403);
    const allowed = await createApiKey(db(), {
      userId: scoped.id,
      name: 'k2',
      scopes: 'notifications:read',
      expiresInDays: null,
    });
    await connected(allowed.key);
  });

  it('first-message auth: ping works before it, other messages wait for it, a bad token closes 4401', async () => {
    const me = await member();
    const client = await open(wsUrl(server));
    client.send({ type: 'ping' });
    expect(await client.next()).toEqual({ type: 'pong' });
    client.send({ type: 'auth' });
    expect(await client.next()).toEqual({ type: 'error', message: 'token is required' });
    client.send({ type: 'auth', token: me.jwt });
    expect(await client.next()).toMatchObject({ type: 'ready', user: { id: me.id } });
    client.send({ type: 'auth', token: me.jwt });
    expect(await client.next()).toEqual({ type: 'error', message: 'Already authenticated' });
    await sendNotification([me.id], 'after first-message auth');
    expect(await client.next()).toMatchObject({
      type: 'notification',
      notification: { title: 'after first-message auth' },
    });

    const bad = await open(wsUrl(server));
    bad.send({ type: 'auth', token: 'wrong' });
    expect(await bad.closed).toEqual({ code: 4401, reason: 'Invalid or expired token' });

    // A stale cookie is no credential: the socket waits for first-message auth.
    const stale = await open(wsUrl(server), { cookie: 'portal_session=stale' });
    stale.send({ type: 'auth', token: me.token });
    expect(await stale.next()).toMatchObject({ type: 'ready' });
  });

  it('closes 4401 when no auth message arrives in time', async () => {
    // A second hub instance with a short deadline, on its own transport and the same services.
    const transport = createTransport('ws', {
      host: '127.0.0.1',
      port: 0,
      maxPayloadBytes: 64 * 1024,
      maxBackpressureBytes: 1024 * 1024,
      messagesPerSecond: 50,
      idleTimeoutSeconds: 120,
      maxSocketsPerKey: 10,
      trustProxy: undefined,
      log: createLogger('silent'),
    });
    const http = createServer((_req, res) => res.writeHead(404).end());
    transport.attach(http);
    const hub = await registerPortalHub({ transport, deps: server.deps, authTimeoutMs: 200 });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    try {
      const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws/portal`;
      const started = Date.now();
      const silent = await open(url);
      expect(await silent.closed).toEqual({ code: 4401, reason: 'Authentication required' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    } finally {
      await transport.closeAll(1001, 'test over');
      await hub.close();
      http.close();
    }
  });

  it('answers ping with pong and invalid frames with an error, keeping the connection', async () => {
    const me = await member();
    const client = await connected(me.token);
    const cases: Array<[unknown, string]> = [
      ['not json', 'Malformed JSON'],
      [{ kind: 'ping' }, 'type is required'],
      [{ type: 42 }, 'type must be a string'],
      [[1, 2], 'request must be an object'],
      [{ type: 'dance' }, 'Unknown message type: dance'],
    ];
    for (const [frame, message] of cases) {
      client.send(frame);
      expect(await client.next()).toEqual({ type: 'error', message });
    }
    client.ws.send(Buffer.from([1, 2, 3]));
    expect(await client.next()).toEqual({
      type: 'error',
      message: 'Binary frames are not accepted on /ws/portal',
    });
    client.send({ type: 'ping' });
    expect(await client.next()).toEqual({ type: 'pong' });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("a targeted notification reaches every socket of that user and nobody else's", async () => {
    const me = await member();
    const other = await member();
    const [mine1, mine2, theirs] = [
      await connected(me.token),
      await connected(me.jwt),
      await connected(other.token),
    ];
    const sent = await sendNotification([me.id], 'Just for you');
    for (const client of [mine1, mine2]) {
      expect(await client.next()).toEqual({
        type: 'notification',
        notification: {
          id: sent.id,
          type: 'mention',
          title: 'Just for you',
          message: 'Just for you!',
          link: null,
          data: null,
          read: false,
          is_read: false,
          created_at: expect.any(String),
        },
      });
    }
    // The Bus message was handled once for the whole node: anything for `theirs` would be queued now.
    theirs.send({ type: 'ping' });
    expect(await theirs.next()).toEqual({ type: 'pong' });
  });

  it('a broadcast reaches every connected user and creates rows for offline users', async () => {
    const online = [await member(), await member()];
    const offline = await member();
    const sockets = await Promise.all(online.map((u) => connected(u.token)));
    const result = await adminOf(server).notifications.broadcast({
      title: 'To all',
      message: 'Hello everyone',
    });
    expect(result.count).toBeGreaterThanOrEqual(3);
    const ids = new Set<number>();
    for (const socket of sockets) {
      const message = await socket.next();
      expect(message).toMatchObject({
        type: 'notification',
        notification: { type: 'admin', title: 'To all' },
      });
      ids.add((message.notification as { id: number }).id);
    }
    expect(ids.size).toBe(1);
    const inbox = await api(server, 'GET', '/notifications', { token: offline.token });
    expect(inbox.body.notifications).toEqual([
      expect.objectContaining({ id: [...ids][0], type: 'admin', title: 'To all', read: false }),
    ]);
  });

  it('moderation and announcements are pushed too', async () => {
    const me = await member();
    const socket = await connected(me.token);
    await adminOf(server).users.warn({ username: me.username, reason: 'calm down' });
    expect(await socket.next()).toMatchObject({
      type: 'notification',
      notification: { type: 'moderation', message: 'You were warned: calm down' },
    });
    await adminOf(server).announcements.create({ title: 'News', message: 'We moved' });
    expect(await socket.next()).toMatchObject({
      type: 'notification',
      notification: { type: 'announcement', title: 'News' },
    });
  });

  it('refuses the 11th socket of one user, by upgrade (429) and by first-message auth (4429)', async () => {
    const me = await member();
    const ten = [];
    for (let i = 0; i < 10; i++) ten.push(await connected(me.token));
    expect(await refusal(`${wsUrl(server)}?token=${me.token}`)).toMatchObject({ status: 429 });
    const late = await open(wsUrl(server));
    late.send({ type: 'auth', token: me.token });
    expect(await late.closed).toEqual({ code: 4429, reason: 'Too many connections' });
    await ten[0]!.close();
    await waitFor(async () => {
      try {
        await connected(me.token);
        return true;
      } catch {
        return false;
      }
    }, 'a free slot after one socket closed');
  });

  it('keeps the online-users presence set while any socket of the user is open', async () => {
    const me = await member();
    const bus = server.deps.bus;
    const online = async () => (await bus.presenceMembers(ONLINE_USERS_SET)).includes(String(me.id));
    const before = await bus.presenceCount(ONLINE_USERS_SET);
    expect(before).toBe(0);
    expect(await online()).toBe(false);

    const first = await connected(me.token);
    expect(await online()).toBe(true);
    expect(await bus.presenceCount(ONLINE_USERS_SET)).toBe(before + 1);
    const second = await connected(me.token);
    expect(await bus.presenceCount(ONLINE_USERS_SET)).toBe(before + 1);

    await first.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(await online()).toBe(true);
    await second.close();
    await waitFor(async () => !(await online()), 'the user to leave the presence set');
    expect(await bus.presenceCount(ONLINE_USERS_SET)).toBe(before);
  });

  it('the admin CLI notify and broadcast commands reach open sockets', async () => {
    const me = await member();
    const socket = await connected(me.token);
    const env = testEnvVars({ DATA_DIR: server.dataDir, DATABASE_URL: server.deps.env.DATABASE_URL });
    const cli = (...args: string[]) => runToExit(['--import', 'tsx', 'src/cli/main.ts', ...args], env);

    const sent = await cli('notify', me.username, '--title', 'From the CLI', '--message', 'hi', '--json');
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toEqual({ count: 1 });
    const all = await cli('broadcast', '--title', 'CLI broadcast', '--message', 'hi all');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^Notified \d+ users\n$/);

    const inbox = await api(server, 'GET', '/notifications?limit=2', { token: me.token });
    expect((inbox.body.notifications as Array<{ title: string }>).map((n) => n.title)).toEqual([
      'CLI broadcast',
      'From the CLI',
    ]);
    if (server.deps.database.kind === 'pglite') {
      // The CLI went through the server's admin channel, so the server's Bus pushed both.
      expect(await socket.next()).toMatchObject({ notification: { title: 'From the CLI' } });
      expect(await socket.next()).toMatchObject({ notification: { title: 'CLI broadcast' } });
    }
  });
});

// ── two nodes: PostgreSQL + Redis ───────────────────────────────────────────────────────────

const clusterSkip = await clusterSkipReason();
if (clusterSkip) console.warn(`[ws-portal] skipping the two-node test: ${clusterSkip}`);

describe.skipIf(clusterSkip !== undefined)('/ws/portal across two nodes (PostgreSQL + Redis)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(2);
  });
  afterAll(() => cluster?.stop());

  it('a notification created through node A reaches a socket on node B, presence is cluster-wide', async () => {
    const [a, b] = cluster.nodes as [RunningServer, RunningServer];
    const username = uniqueName('cl');
    await adminOf(a).users.create({ username, password: 'correct horse battery' });
    const signedIn = await fetch(`${a.url}/api/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: 'correct horse battery' }),
    });
    const { token } = (await signedIn.json()) as { token: string };

    const onB = await open(`${wsUrl(b)}?token=${token}`);
    const ready = await onB.next();
    expect(ready).toMatchObject({ type: 'ready', user: { username } });
    const userId = (ready.user as { id: number }).id;
    // Presence written by node B is seen through node A's Bus.
    await waitFor(
      async () => (await a.deps.bus.presenceMembers(ONLINE_USERS_SET)).includes(String(userId)),
      'node A to see the user online',
    );

    await adminOf(a).notifications.notify({ username, title: 'Cross-node', message: 'from A' });
    expect(await onB.next()).toMatchObject({ type: 'notification', notification: { title: 'Cross-node' } });
    await adminOf(a).notifications.broadcast({ title: 'Cluster broadcast', message: 'to all nodes' });
    expect(await onB.next()).toMatchObject({ notification: { title: 'Cluster broadcast' } });

    // The user on both nodes: closing B's socket must not make them offline while A holds one.
    const onA = await open(`${wsUrl(a)}?token=${token}`);
    expect((await onA.next()).type).toBe('ready');
    let dropped = false;
    const unsubscribe = await a.deps.bus.subscribe(PRESENCE_TOPIC, (m) => {
      if ((m as { user_id: number }).user_id === userId) dropped = true;
    });
    await onB.close();
    // Node B has removed the user from the set by the time it announces it.
    await waitFor(async () => dropped, 'node B to announce that its last socket of the user closed');
    await unsubscribe();
    const stillOnline = async () =>
      (await a.deps.bus.presenceMembers(ONLINE_USERS_SET)).includes(String(userId));
    await waitFor(stillOnline, 'node A to re-add the user after node B dropped them', 2000);
    await onA.close();
    await waitFor(async () => !(await stillOnline()), 'the user to go offline everywhere');
  });
});
