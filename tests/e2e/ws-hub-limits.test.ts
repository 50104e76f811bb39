import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chatUrl, drain, joinChannel, openChat } from '../helpers/chat-client';
import { type Cluster, clusterSkipReason, startCluster } from '../helpers/cluster';
import { closePortalClients, openPortal, portalUrl } from '../helpers/portal-client';
import { roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// What /ws/chat and /ws/portal share in json-hub.ts, over real sockets: the per-user socket cap
// (refused sockets never free a place they did not take; cluster-wide on two nodes), frames of a
// socket handled in order, and the bound on frames waiting to be handled.

let server: TestServer;
const { person } = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({ env: NO_REQUEST_LIMITS });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

const endpoints = {
  '/ws/chat': (s: { url: string }, token?: string) => chatUrl(s, token),
  '/ws/portal': (s: { url: string }, token?: string) => portalUrl(s, token),
};

/** An authenticated socket (after `ready`). */
async function connect(url: string) {
  const ws = await openPortal(url);
  await ws.nextOf('ready');
  return ws;
}

/** A first-message authentication attempt: resolves with the close, or `ready` when admitted. */
async function firstMessageAuth(url: string, token: string) {
  const ws = await openPortal(url);
  ws.send({ type: 'auth', token });
  return Promise.race([ws.closed, ws.nextOf('ready').then(() => 'ready' as const)]);
}

describe.each(Object.entries(endpoints))('socket cap on %s', (_path, urlOf) => {
  it('refused sockets do not free a place: the 11th stays refused however often it tries', async () => {
    const p = await person();
    const ten = [];
    for (let i = 0; i < 10; i++) ten.push(await connect(urlOf(server, p.token)));
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(await firstMessageAuth(urlOf(server), p.token)).toEqual({
        code: 4429,
        reason: 'Too many connections',
      });
    }
    await expect(openPortal(urlOf(server, p.token))).rejects.toMatchObject({ status: 429 });
    // Closing one gives exactly one place back.
    await ten[0]!.close();
    let admitted: Awaited<ReturnType<typeof firstMessageAuth>> | undefined;
    for (let i = 0; i < 100 && admitted !== 'ready'; i++)
      admitted = await firstMessageAuth(urlOf(server), p.token);
    expect(admitted).toBe('ready');
    expect(await firstMessageAuth(urlOf(server), p.token)).toMatchObject({ code: 4429 });
  });
});

const skip = await clusterSkipReason();

// On the embedded database and the in-process Bus every step of a handler resolves within the same
// turn of the event loop, so a socket's frames never actually overlap; on PostgreSQL (a pool of
// connections) and Redis they do. The queue is therefore tested on such a node.
describe.skipIf(skip !== undefined)(`frames waiting to be handled (${skip ?? 'PostgreSQL + Redis'})`, () => {
  let cluster: Cluster;
  let queued: TestServer;
  beforeAll(async () => {
    cluster = await startCluster(1, { WS_MAX_PENDING_FRAMES: '4', CHAT_RATE_MESSAGES: '1000' });
    queued = cluster.nodes[0] as TestServer;
  });
  afterAll(async () => {
    await closePortalClients();
    await cluster?.stop();
  });
  const kit = roomKit(() => queued);

  it('closes a socket that has more than WS_MAX_PENDING_FRAMES frames waiting', async () => {
    const p = await kit.person();
    const ws = await openChat(queued, p.token);
    for (let i = 0; i < 30; i++) ws.send({ type: 'join', channel: 'general' });
    expect(await ws.nextOf('error')).toEqual({ type: 'error', message: 'Too many pending messages' });
    expect(await ws.closed).toEqual({ code: 4429, reason: 'Too many pending messages' });
  });

  it('handles the frames of one socket in order: messages are stored and delivered as sent', async () => {
    const sender = await kit.person();
    const reader = await kit.person();
    const ws = await openChat(queued, sender.token);
    const other = await openChat(queued, reader.token);
    await joinChannel(ws, 'general');
    await joinChannel(other, 'general');
    const texts = Array.from({ length: 4 }, (_, i) => `in order ${i}`);
    for (let round = 0; round < 10; round++) {
      for (const message of texts) ws.send({ type: 'message', channel: 'general', message });
      const got = [];
      for (const _ of texts) got.push(await other.nextOf('message'));
      expect(got.map((m) => m.message)).toEqual(texts);
      const ids = got.map((m) => m.id as number);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      await drain(ws);
    }
    // Refusals are answered in turn as well, and a `ping` after them comes last.
    ws.send({ type: 'join', channel: 'no-such-channel' });
    ws.send({ type: 'dance' });
    ws.send({ type: 'ping' });
    expect((await ws.next()).message).toBe('Channel not found');
    expect((await ws.next()).message).toBe('Unknown message type: dance');
    expect((await ws.next()).type).toBe('pong');
  });
});

describe.skipIf(skip !== undefined)(`socket cap on two nodes (${skip ?? 'PostgreSQL + Redis'})`, () => {
  it('counts a user’s sockets on every node', async () => {
    const cluster = await startCluster(2);
    try {
      const [a, b] = cluster.nodes;
      const kit = roomKit(() => a as TestServer);
      for (const [, urlOf] of Object.entries(endpoints)) {
        const p = await kit.person();
        const open = [];
        for (let i = 0; i < 5; i++) open.push(await connect(urlOf(a!, p.token)));
        for (let i = 0; i < 5; i++) open.push(await connect(urlOf(b!, p.token)));
        // Each node holds 5, under its own upgrade cap; the cluster-wide count refuses the 11th.
        expect(await firstMessageAuth(urlOf(a!), p.token)).toMatchObject({ code: 4429 });
        const late = await openPortal(urlOf(b!, p.token));
        expect(await late.closed).toEqual({ code: 4429, reason: 'Too many connections' });
        await open[9]!.close();
        let admitted: Awaited<ReturnType<typeof firstMessageAuth>> | undefined;
        for (let i = 0; i < 100 && admitted !== 'ready'; i++)
          admitted = await firstMessageAuth(urlOf(a!), p.token);
        expect(admitted).toBe('ready');
      }
    } finally {
      await closePortalClients();
      await cluster.stop();
    }
  }, 60_000);
});
