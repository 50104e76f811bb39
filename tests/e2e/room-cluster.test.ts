import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server';
import { createSession } from '../../src/services/auth/sessions';
import { createUser } from '../../src/services/users/accounts';
import { chromiumSkipReason } from '../helpers/chromium';
import { type Cluster, clusterSkipReason, startCluster } from '../helpers/cluster';
import { api, uniqueName } from '../helpers/identity';
import { closePortalClients, openPortal, portalUrl, waitFor } from '../helpers/portal-client';

// Rooms in cluster mode (two nodes, one PostgreSQL, one Redis): a room's browser runs on the node
// that started it, and members connected to the other node still get its events, its screen
// frames and its screenshot, send it input and stop it — all through the Bus.

const skipReason = (await clusterSkipReason()) ?? chromiumSkipReason();
if (skipReason) console.warn(`[rooms] skipping the two-node room test: ${skipReason}`);

const PAGE = `<!doctype html><body style="margin:0">
<button style="width:300px;height:150px" onclick="fetch('/clicked');document.body.style.background='#00a'">Click</button>
</body>`;

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

  async function person(node: RunningServer, level = 0) {
    const user = await createUser(node.deps.database.db, { username: uniqueName('rc'), level });
    const session = await createSession(node.deps.database.db, node.deps.secretKey, {
      user,
      method: 'password',
    });
    return { id: user.id, token: session.token };
  }

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
