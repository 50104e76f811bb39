import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server';
import { createSession } from '../../src/services/auth/sessions';
import { createUser } from '../../src/services/users/accounts';
import { chromiumSkipReason } from '../helpers/chromium';
import { type Cluster, clusterSkipReason, startCluster } from '../helpers/cluster';
import { api, uniqueName } from '../helpers/identity';
import type { PortalClient } from '../helpers/portal-client';
import { closePortalClients, openPortal, portalUrl, waitFor } from '../helpers/portal-client';

// Rooms in cluster mode (two nodes, one PostgreSQL, one Redis): a room's browser runs on the node
// that started it, and members connected to the other node still get its events, its screen
// frames and its screenshot, send it input and stop it — all through the Bus. Room chat,
// moderation (a kick evicts a socket held by the other node) and match_found cross nodes too.

const clusterSkip = await clusterSkipReason();
const skipReason = clusterSkip ?? chromiumSkipReason();
if (skipReason) console.warn(`[rooms] skipping the two-node browser test: ${skipReason}`);

const PAGE = `<!doctype html><body style="margin:0">
<button style="width:300px;height:150px" onclick="fetch('/clicked');document.body.style.background='#00a'">Click</button>
</body>`;

/** A user with a session, made through one node (the database is shared). */
async function person(node: RunningServer, level = 0) {
  const user = await createUser(node.deps.database.db, { username: uniqueName('rc'), level });
  const session = await createSession(node.deps.database.db, node.deps.secretKey, {
    user,
    method: 'password',
  });
  return { id: user.id, token: session.token };
}

describe.skipIf(skipReason !== undefined)('rooms across two nodes', () => {
  let cluster: Cluster;
  let page: http.Server;
  let pageUrl = '';
  let clicks = 0;

  beforeAll(async () => {
    page = http.createServer((req, res) => {
      if (req.url === '/clicked') clicks++;
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    });
    await new Promise<void>((ok) => page.listen(0, '127.0.0.1', ok));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    cluster = await startCluster(2, { BROWSER_ALLOW_PRIVATE: 'true', WS_MESSAGES_PER_SECOND: '1000' });
  });
  afterAll(async () => {
    await cluster?.stop();
    await new Promise<void>((ok) => page?.close(() => ok()));
  });
  afterEach(closePortalClients);

  it('carries events, frames, screenshots, input and stop from node B to a browser on node A', async () => {
    const [a, b] = cluster.nodes as [RunningServer, RunningServer];
    const owner = await person(a, 2);
    const member = await person(a);
    const onA = (who: { token: string }, method: string, path: string, body?: unknown) =>
      api(a, method, path, { token: who.token, ...(body !== undefined && { body }) });
    const onB = (who: { token: string }, method: string, path: string, body?: unknown) =>
      api(b, method, path, { token: who.token, ...(body !== undefined && { body }) });

    const room = await onA(owner, 'POST', '/chats', { name: 'Cluster room', config: { start_url: pageUrl } });
    const id = room.body.id as number;
    const invite = await onA(owner, 'POST', `/chats/${id}/invites`, {});
    await onB(member, 'POST', `/chats/join/${invite.body.code}`);

    const ws = await openPortal(portalUrl(b, member.token));
    await ws.nextOf('ready');
    ws.send({ type: 'join_room', room_id: id });
    await ws.nextOf('room_joined');

    // Started through node A: the browser lives there.
    expect((await onA(owner, 'POST', `/chats/${id}/start`)).body.state).toBe('running');
    expect(await ws.nextOf('chat_state')).toMatchObject({ state: 'running' });
    expect((await ws.nextBinary(15_000)).subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));

    // The screenshot asked of node B comes from node A's Chromium.
    const shot = await fetch(`${b.url}/chats/${id}/screen`, {
      headers: { authorization: `Bearer ${member.token}` },
    });
    expect(shot.status).toBe(200);
    expect(Buffer.from(await shot.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));

    // Input from node B reaches the page in node A's browser.
    ws.send({ type: 'control_request' });
    expect((await ws.nextOf('control_state')).holder_user_id).toBe(member.id);
    ws.send({ type: 'input', kind: 'mouse', action: 'click', x: 100, y: 50 });
    await waitFor(() => clicks > 0, 'the click from node B to reach the page', 10_000);

    // Clipboard written through node B goes into node A's browser; events reach node B's socket.
    await onB(member, 'PUT', `/chats/${id}/clipboard`, { text: 'across nodes' });
    expect(await ws.nextOf('clipboard')).toMatchObject({ text: 'across nodes' });

    // Stopped through node B: node A closes the browser.
    const stopped = await onB(owner, 'POST', `/chats/${id}/stop`);
    expect(stopped.body.state).toBe('stopped');
    expect(await ws.nextOf('chat_state')).toMatchObject({ state: 'stopped' });
    expect(a.deps.browsers.activeCount()).toBe(0);
  });
});

describe.skipIf(clusterSkip !== undefined)(
  `room chat, moderation and matches across two nodes (${clusterSkip ?? 'PostgreSQL + Redis'})`,
  () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster(2, { MATCH_FALLBACK_SECONDS: '0' });
    });
    afterAll(() => cluster?.stop());
    afterEach(closePortalClients);

    async function inRoom(node: RunningServer, token: string, id: number) {
      const ws = await openPortal(portalUrl(node, token));
      await ws.nextOf('ready');
      ws.send({ type: 'join_room', room_id: id, screen: false });
      await ws.nextOf('room_joined');
      return ws;
    }
    /** The next chat_message on `ws` with this content (others may come first). */
    async function chatMessage(ws: PortalClient, content: string) {
      for (;;) {
        const event = await ws.nextOf('chat_message');
        if ((event.message as { content: string }).content === content) return event;
      }
    }

    it('carries room chat and moderation both ways; a kick through node A evicts a socket on node B', async () => {
      const [a, b] = cluster.nodes as [RunningServer, RunningServer];
      const owner = await person(a, 2);
      const [target, witness] = [await person(a), await person(a)];
      const call = (
        node: RunningServer,
        who: { token: string },
        method: string,
        path: string,
        body?: unknown,
      ) => api(node, method, path, { token: who.token, ...(body !== undefined && { body }) });
      const room = await call(a, owner, 'POST', '/chats', { name: 'Chat across nodes' });
      const id = room.body.id as number;
      const invite = await call(a, owner, 'POST', `/chats/${id}/invites`, {});
      for (const who of [target, witness]) await call(b, who, 'POST', `/chats/join/${invite.body.code}`);
      const ownerWs = await inRoom(a, owner.token, id);
      const targetWs = await inRoom(b, target.token, id);
      const witnessWs = await inRoom(b, witness.token, id);

      const sent = await call(a, owner, 'POST', `/chats/${id}/messages`, { content: 'hello from A' });
      expect(sent.status).toBe(200);
      expect((await chatMessage(targetWs, 'hello from A')).message).toMatchObject({ id: sent.body.id });
      await call(b, target, 'POST', `/chats/${id}/messages`, { content: 'hello from B' });
      await chatMessage(ownerWs, 'hello from B');
      await call(a, owner, 'DELETE', `/chats/${id}/messages/${sent.body.id}`);
      expect(await targetWs.nextOf('chat_message_deleted')).toMatchObject({ message_id: sent.body.id });

      // A mute made on node A is enforced on node B at once.
      await call(a, owner, 'POST', `/chats/${id}/moderation/mute`, {
        user_id: target.id,
        duration_minutes: 5,
      });
      expect(await targetWs.nextOf('moderation')).toMatchObject({ action: 'mute', user_id: target.id });
      const muted = await call(b, target, 'POST', `/chats/${id}/messages`, { content: 'hush' });
      expect([muted.status, muted.body.error]).toEqual([403, 'You are muted in this chat']);

      // A kick made on node A takes the socket on node B out of the room's topics at once.
      await call(a, owner, 'POST', `/chats/${id}/moderation/kick`, { user_id: target.id });
      expect(await targetWs.nextOf('room_left')).toMatchObject({ room_id: id, reason: 'kicked' });
      expect(await witnessWs.nextOf('member_left')).toMatchObject({ user_id: target.id, reason: 'kicked' });
      await call(a, owner, 'POST', `/chats/${id}/messages`, { content: 'after the kick' });
      // The witness's socket is on the same node: once it has the message, node B has handled it.
      await chatMessage(witnessWs, 'after the kick');
      targetWs.send({ type: 'ping' });
      const seen = [];
      for (let m = await targetWs.next(); m.type !== 'pong'; m = await targetWs.next()) seen.push(m);
      expect(seen.filter((m) => m.type === 'chat_message')).toEqual([]);
    });

    it('pushes match_found to a user whose socket is on the other node', async () => {
      const [a, b] = cluster.nodes as [RunningServer, RunningServer];
      const [alice, bob] = [await person(a), await person(a)];
      const aliceWs = await openPortal(portalUrl(b, alice.token));
      await aliceWs.nextOf('ready');
      const bobWs = await openPortal(portalUrl(a, bob.token));
      await bobWs.nextOf('ready');
      expect((await api(a, 'POST', '/match/enqueue', { token: alice.token, body: {} })).status).toBe(200);
      expect((await api(a, 'POST', '/match/enqueue', { token: bob.token, body: {} })).status).toBe(200);
      const found = await aliceWs.nextOf('match_found');
      expect(found).toMatchObject({ partner: { id: bob.id } });
      expect(await bobWs.nextOf('match_found')).toMatchObject({
        room_id: found.room_id,
        partner: { id: alice.id },
      });
    });
  },
);
