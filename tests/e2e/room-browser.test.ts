import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumSkipReason, descendantPids } from '../helpers/chromium';
import { api, makeUser, signIn } from '../helpers/identity';
import {
  closePortalClients,
  openPortal,
  type PortalClient,
  portalUrl,
  waitFor,
} from '../helpers/portal-client';
import { startTestServer, type TestServer } from '../helpers/server';

// A room's shared browser against real Chromium (API.md §5, §9): start on a page this test serves,
// the JPEG screen over HTTP and as live frames over /ws/portal, input only from the member in
// control, control handover, the clipboard both ways, capacity, idle stop, and no Chromium left.

const skipReason = chromiumSkipReason();
if (skipReason) console.warn(`Skipping the room browser tests: ${skipReason}`);

const PAGE = `<!doctype html><html><body style="margin:0">
<button id="big" style="position:absolute;left:0;top:0;width:300px;height:150px">Click</button>
<button id="copy" style="position:absolute;left:320px;top:0;width:150px;height:150px">Copy</button>
<textarea id="area" style="position:absolute;left:0;top:170px;width:300px;height:80px"></textarea>
<script>
  const report = (path, params) => fetch(path + '?' + new URLSearchParams(params)).catch(() => {});
  big.addEventListener('click', () => { document.body.style.background = '#0a0'; report('/clicked', {}); });
  copy.addEventListener('click', () => navigator.clipboard.writeText('copied inside the room'));
  area.addEventListener('paste', () => setTimeout(() => report('/pasted', { text: area.value }), 0));
</script></body></html>`;

const isJpeg = (b: Buffer) =>
  b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff && b.at(-2) === 0xff && b.at(-1) === 0xd9;

const chromiumChildren = () =>
  descendantPids(process.pid).filter((pid) => {
    try {
      return /chrom/i.test(readFileSync(`/proc/${pid}/comm`, 'utf8'));
    } catch {
      return false;
    }
  });

describe.skipIf(skipReason !== undefined)('room browser on Chromium', () => {
  let server: TestServer;
  let page: http.Server;
  let pageUrl = '';
  const hits: Array<{ path: string; params: URLSearchParams }> = [];

  beforeAll(async () => {
    page = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://page');
      hits.push({ path: url.pathname, params: url.searchParams });
      if (url.pathname === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      else res.writeHead(204).end();
    });
    await new Promise<void>((ok) => page.listen(0, '127.0.0.1', ok));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    server = await startTestServer({
      env: {
        RATE_LIMIT_LOGIN: '100000',
        RATE_LIMIT_AUTH: '100000',
        RATE_LIMIT_PUBLIC: '100000',
        STATS_CACHE_SECONDS: '0',
        BROWSER_ALLOW_PRIVATE: 'true',
        MAX_BROWSERS: '1',
        BROWSER_IDLE_SECONDS: '5',
        WS_MESSAGES_PER_SECOND: '1000',
      },
    });
  });
  afterAll(async () => {
    await server?.close();
    await new Promise<void>((ok) => page?.close(() => ok()));
    expect(chromiumChildren()).toEqual([]);
  });
  afterEach(closePortalClients);

  async function person(level = 0) {
    const { user, username, password } = await makeUser(server, { level });
    return { id: user.id, username, token: await signIn(server, username, password) };
  }
  type Person = Awaited<ReturnType<typeof person>>;
  const call = (who: Person | null, method: string, path: string, body?: unknown) =>
    api(server, method, path, { ...(who && { token: who.token }), ...(body !== undefined && { body }) });

  async function portal(who: Person, roomId: number, screen = true): Promise<PortalClient> {
    const ws = await openPortal(portalUrl(server, who.token));
    await ws.nextOf('ready');
    ws.send({ type: 'join_room', room_id: roomId, screen });
    await ws.nextOf('room_joined');
    return ws;
  }

  it('serves the screen, live frames, input under control, handover and the clipboard', async () => {
    const owner = await person(2);
    const member = await person();
    const room = await call(owner, 'POST', '/chats', {
      name: 'Browser room',
      config: { start_url: pageUrl, width: 800, height: 600 },
    });
    const id = room.body.id as number;
    const invite = await call(owner, 'POST', `/chats/${id}/invites`, {});
    await call(member, 'POST', `/chats/join/${invite.body.code}`);

    // Members may not start or stop; the owner may.
    expect((await call(member, 'POST', `/chats/${id}/start`)).status).toBe(403);
    const ownerWs = await portal(owner, id, false);
    const started = await call(owner, 'POST', `/chats/${id}/start`);
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ state: 'running', started_at: expect.any(String) });
    expect(await ownerWs.nextOf('chat_state')).toMatchObject({ room_id: id, state: 'running' });
    await waitFor(() => hits.some((h) => h.path === '/'), 'the start page to load', 10_000);
    expect((await call(null, 'GET', '/statistics/chats')).body).toMatchObject({
      active_browsers: 1,
      node: { active_browsers: 1, capacity: 1 },
    });

    const screen = await fetch(`${server.url}/chats/${id}/screen`, {
      headers: { authorization: `Bearer ${member.token}` },
    });
    expect(screen.status).toBe(200);
    expect(screen.headers.get('content-type')).toBe('image/jpeg');
    expect(isJpeg(Buffer.from(await screen.arrayBuffer()))).toBe(true);

    const memberWs = await portal(member, id);
    expect(isJpeg(await memberWs.nextBinary(10_000))).toBe(true);

    // No control, no input.
    memberWs.send({ type: 'input', kind: 'mouse', action: 'click', x: 100, y: 50 });
    expect(await memberWs.nextOf('error')).toMatchObject({
      status: 403,
      message: 'You do not have control of the browser',
    });
    memberWs.send({ type: 'input', kind: 'teleport' });
    expect((await memberWs.nextOf('error')).status).toBe(400);

    memberWs.send({ type: 'control_request' });
    expect(await memberWs.nextOf('control_state')).toEqual({
      type: 'control_state',
      room_id: id,
      holder_user_id: member.id,
    });
    memberWs.send({ type: 'input', kind: 'mouse', action: 'click', x: 100, y: 50 });
    await waitFor(() => hits.some((h) => h.path === '/clicked'), 'the click to reach the page');
    // The page changed: a later frame differs from the first ones.
    expect(isJpeg(await memberWs.nextBinary(10_000))).toBe(true);

    // A second request while someone holds control asks the holder.
    ownerWs.send({ type: 'control_request' });
    expect(await memberWs.nextOf('control_requested')).toMatchObject({
      user_id: owner.id,
      username: owner.username,
    });
    ownerWs.send({ type: 'control_take' });
    expect((await memberWs.nextOf('control_state')).holder_user_id).toBe(owner.id);
    memberWs.send({ type: 'input', kind: 'key', action: 'press', key: 'a' });
    expect((await memberWs.nextOf('error')).status).toBe(403);
    memberWs.send({ type: 'control_take' });
    expect((await memberWs.nextOf('error')).status).toBe(403);
    ownerWs.send({ type: 'control_give', user_id: member.id });
    expect((await memberWs.nextOf('control_state')).holder_user_id).toBe(member.id);

    // Clipboard in: PUT, then paste inside the page.
    expect((await call(member, 'PUT', `/chats/${id}/clipboard`, { text: 'hello from portal' })).status).toBe(
      200,
    );
    expect(await memberWs.nextOf('clipboard')).toMatchObject({ text: 'hello from portal' });
    memberWs.send({ type: 'input', kind: 'mouse', action: 'click', x: 150, y: 210 });
    memberWs.send({ type: 'input', kind: 'key', action: 'press', key: 'Control+V' });
    await waitFor(
      () => hits.some((h) => h.path === '/pasted' && h.params.get('text') === 'hello from portal'),
      'the paste to reach the page',
    );

    // Clipboard out: the page copies, members hear it, the REST clipboard has it.
    memberWs.send({ type: 'input', kind: 'mouse', action: 'click', x: 400, y: 50 });
    // (The owner's socket also queued the earlier `hello from portal`.)
    let copied = await ownerWs.nextOf('clipboard', 10_000);
    while (copied.text === 'hello from portal') copied = await ownerWs.nextOf('clipboard', 10_000);
    expect(copied).toMatchObject({ room_id: id, text: 'copied inside the room' });
    expect((await call(owner, 'GET', `/chats/${id}/clipboard`)).body).toEqual({
      text: 'copied inside the room',
    });

    // A timed-out member loses control at once; a kicked one also leaves the room's topic.
    await call(owner, 'POST', `/chats/${id}/moderation/timeout`, { user_id: member.id, duration_minutes: 1 });
    expect(await ownerWs.nextOf('control_state')).toMatchObject({ holder_user_id: null });
    memberWs.send({ type: 'control_request' });
    expect(await memberWs.nextOf('error')).toMatchObject({
      status: 403,
      message: 'You are timed out in this chat',
    });
    await call(owner, 'POST', `/chats/${id}/moderation/kick`, { user_id: member.id });
    expect(await memberWs.nextOf('room_left')).toMatchObject({ reason: 'kicked' });
    memberWs.send({ type: 'input', kind: 'mouse', action: 'click', x: 1, y: 1 });
    expect((await memberWs.nextOf('error')).message).toBe('Join a room first (join_room)');

    // Capacity: MAX_BROWSERS=1 on this node.
    const other = await call(owner, 'POST', '/chats', { name: 'Second', config: { start_url: pageUrl } });
    const refused = await call(owner, 'POST', `/chats/${other.body.id}/start`);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('Browser capacity reached, try again later');
    expect((await call(owner, 'GET', `/chats/${other.body.id}`)).body.state).toBe('stopped');

    const stopped = await call(owner, 'POST', `/chats/${id}/stop`);
    expect(stopped.body.state).toBe('stopped');
    expect(await ownerWs.nextOf('chat_state')).toMatchObject({ state: 'stopped', reason: 'stopped' });
    expect((await call(owner, 'GET', `/chats/${id}/screen`)).status).toBe(409);
    await waitFor(() => chromiumChildren().length === 0, 'Chromium to exit', 10_000);
  });

  it('stops a browser nobody is connected to after BROWSER_IDLE_SECONDS', async () => {
    const owner = await person(2);
    const room = await call(owner, 'POST', '/chats', { name: 'Idle', config: { start_url: pageUrl } });
    const id = room.body.id as number;
    expect((await call(owner, 'POST', `/chats/${id}/start`)).status).toBe(200);
    await waitFor(
      async () => (await call(owner, 'GET', `/chats/${id}`)).body.state === 'stopped',
      'the idle browser to stop',
      20_000,
    );
    await waitFor(() => chromiumChildren().length === 0, 'Chromium to exit', 10_000);
  });
});
