import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rooms } from '../../src/db/schema';
import { chromiumSkipReason, descendantPids } from '../helpers/chromium';
import { api, makeUser, signIn } from '../helpers/identity';
import {
  closePortalClients,
  openPortal,
  type PortalClient,
  portalUrl,
  waitFor,
} from '../helpers/portal-client';
import { adminCaller, startTestServer, type TestServer } from '../helpers/server';

// A room's shared browser against real Chromium (API.md §5, §9): start on a page this test serves,
// the JPEG screen over HTTP and as live frames over /ws/portal, input only from the member in
// control, control handover, the clipboard both ways, capacity, idle stop, and no Chromium left
// — also when a room is destroyed while its browser runs or starts, or its owner's account goes,
// and when one viewer stops reading.

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

/** A canvas of fresh noise every animation frame: large JPEG frames, a new one each time. */
const NOISE = `<!doctype html><body style="margin:0"><canvas id="c" width="1280" height="720"></canvas><script>
const g = c.getContext('2d'); const img = g.createImageData(1280, 720); const px = new Uint32Array(img.data.buffer);
(function draw() { for (let i = 0; i < px.length; i++) px[i] = (Math.random() * 0xffffff) | 0xff000000;
  g.putImageData(img, 0, 0); requestAnimationFrame(draw); })();
</script></body>`;

/** A page taller than the viewport that reports each time it is shown and its first scroll. */
const LONG = `<!doctype html><body style="margin:0;height:5000px"><script>
const report = (path, params) =>
  fetch(path + '?' + new URLSearchParams({ ...params, n: Math.random() }), { cache: 'no-store' }).catch(() => {});
report('/shown', { at: location.pathname });
addEventListener('pageshow', (e) => e.persisted && report('/shown', { at: location.pathname }));
addEventListener('scroll', () => report('/scrolled', { y: String(scrollY) }), { once: true });
</script></body>`;

const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

/** The RGB of one pixel of a JPEG (decoded by ffmpeg). */
function pixelOf(jpeg: Buffer, x: number, y: number): [number, number, number] {
  const out = spawnSync(
    'ffmpeg',
    [
      '-v',
      'error',
      '-i',
      'pipe:0',
      '-vf',
      `format=rgb24,crop=1:1:${x}:${y}`,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      'pipe:1',
    ],
    { input: jpeg },
  );
  if (out.status !== 0) throw new Error(`ffmpeg: ${out.stderr.toString()}`);
  return [out.stdout[0]!, out.stdout[1]!, out.stdout[2]!];
}

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
      else if (url.pathname === '/noise') res.writeHead(200, { 'content-type': 'text/html' }).end(NOISE);
      else if (url.pathname === '/long' || url.pathname === '/landed')
        res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' }).end(LONG);
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
  afterEach(async () => {
    // A failed test must not leave its browser holding the node's only slot (MAX_BROWSERS=1).
    const running = await server.deps.database.db
      .select()
      .from(rooms)
      .where(eq(rooms.browserState, 'running'));
    for (const room of running) await server.deps.browsers.halt(room, 'stopped');
  });

  async function person(level = 0) {
    const { user, username, password } = await makeUser(server, { level });
    return { id: user.id, username, token: await signIn(server, username, password) };
  }
  type Person = Awaited<ReturnType<typeof person>>;
  const call = (who: Person | null, method: string, path: string, body?: unknown) =>
    api(server, method, path, { ...(who && { token: who.token }), ...(body !== undefined && { body }) });
  const screenOf = async (who: Person, id: number) => {
    const res = await fetch(`${server.url}/chats/${id}/screen`, {
      headers: { authorization: `Bearer ${who.token}` },
    });
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  };
  const roomRow = async (id: number) =>
    (await server.deps.database.db.select().from(rooms).where(eq(rooms.id, id)))[0];
  const admin = () => adminCaller(server);
  /** A room of `owner` (an Admin) on `path` of the test page server, with `members` joined. */
  async function roomOn(
    owner: Person,
    path = '',
    members: Person[] = [],
    size = { width: 800, height: 600 },
  ) {
    const room = await call(owner, 'POST', '/chats', {
      name: 'Lifecycle',
      config: { start_url: `${pageUrl}${path}`, ...size },
    });
    expect(room.status).toBe(200);
    const id = room.body.id as number;
    const invite = await call(owner, 'POST', `/chats/${id}/invites`, {});
    for (const m of members)
      expect((await call(m, 'POST', `/chats/join/${invite.body.code}`)).status).toBe(200);
    return id;
  }

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
    // The page's state before the click: a white background where no element is (x 700, y 500).
    const before = await screenOf(member, id);
    if (hasFfmpeg) expect(pixelOf(before, 700, 500)).toEqual([255, 255, 255]);
    memberWs.send({ type: 'input', kind: 'mouse', action: 'click', x: 100, y: 50 });
    await waitFor(() => hits.some((h) => h.path === '/clicked'), 'the click to reach the page');
    // The click changed the page: its handler turned the background green (#0a0), which the
    // screen shows (checked on the pixel when ffmpeg can decode it, else on the bytes).
    const after = await screenOf(member, id);
    expect(after.equals(before)).toBe(false);
    if (hasFfmpeg) {
      const [r, g, b] = pixelOf(after, 700, 500);
      expect(r).toBeLessThan(30);
      expect(g).toBeGreaterThan(140);
      expect(b).toBeLessThan(30);
    } else console.warn('ffmpeg missing: the click is checked on the screen bytes only');
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

  it('replays scroll and navigate input from the member in control', async () => {
    const owner = await person(2);
    const member = await person();
    const id = await roomOn(owner, 'long', [member]);
    const ws = await portal(member, id);
    expect((await call(owner, 'POST', `/chats/${id}/start`)).status).toBe(200);
    await waitFor(() => hits.some((h) => h.path === '/long'), 'the start page to load', 10_000);
    expect(isJpeg(await ws.nextBinary(10_000))).toBe(true);
    const scroll = { type: 'input', kind: 'scroll', x: 100, y: 100, dx: 0, dy: 600 };
    ws.send(scroll);
    expect(await ws.nextOf('error')).toMatchObject({
      status: 403,
      message: 'You do not have control of the browser',
    });
    ws.send({ type: 'control_request' });
    expect((await ws.nextOf('control_state')).holder_user_id).toBe(member.id);

    ws.send(scroll);
    await waitFor(() => hits.some((h) => h.path === '/scrolled'), 'the page to report the scroll', 10_000);
    expect(Number(hits.find((h) => h.path === '/scrolled')!.params.get('y'))).toBeGreaterThan(0);

    // Each navigation shows a page, which reports its path: when its script runs, or when it comes
    // back from the back/forward cache.
    const loads = (path: string) =>
      hits.filter((h) => h.path === '/shown' && h.params.get('at') === path).length;
    ws.send({ type: 'input', kind: 'navigate', url: `${pageUrl}landed` });
    await waitFor(() => loads('/landed') === 1, 'the navigation', 10_000);
    ws.send({ type: 'input', kind: 'navigate', action: 'reload' });
    await waitFor(() => loads('/landed') === 2, 'the reload', 10_000);
    ws.send({ type: 'input', kind: 'navigate', action: 'back' });
    await waitFor(() => loads('/long') === 2, 'going back', 10_000);
    ws.send({ type: 'input', kind: 'navigate', action: 'forward' });
    await waitFor(() => loads('/landed') === 3, 'going forward', 10_000);
    // Only http(s) targets; the socket stays usable.
    ws.send({ type: 'input', kind: 'navigate', url: 'file:///etc/passwd' });
    expect((await ws.nextOf('error')).status).toBe(400);
    expect((await call(owner, 'POST', `/chats/${id}/stop`)).status).toBe(200);
    await waitFor(() => chromiumChildren().length === 0, 'Chromium to exit', 10_000);
  });

  it('stops a browser nobody watches after BROWSER_IDLE_SECONDS, and says so on the socket', async () => {
    const owner = await person(2);
    const room = await call(owner, 'POST', '/chats', { name: 'Idle', config: { start_url: pageUrl } });
    const id = room.body.id as number;
    // An events-only socket (screen: false) hears the room but does not keep its browser running.
    const ws = await portal(owner, id, false);
    expect((await call(owner, 'POST', `/chats/${id}/start`)).status).toBe(200);
    expect(await ws.nextOf('chat_state')).toMatchObject({ state: 'running' });
    expect(await ws.nextOf('chat_state', 30_000)).toEqual({
      type: 'chat_state',
      room_id: id,
      state: 'stopped',
      reason: 'idle',
    });
    expect((await call(owner, 'GET', `/chats/${id}`)).body.state).toBe('stopped');
    await waitFor(() => chromiumChildren().length === 0, 'Chromium to exit', 10_000);
  });

  it('destroying a running room closes its browser and tells the members', async () => {
    const owner = await person(2);
    const member = await person();
    const id = await roomOn(owner, '', [member]);
    const ws = await portal(member, id);
    expect((await call(owner, 'POST', `/chats/${id}/start`)).status).toBe(200);
    expect(isJpeg(await ws.nextBinary(10_000))).toBe(true);
    expect(chromiumChildren().length).toBeGreaterThan(0);
    expect((await call(owner, 'DELETE', `/chats/${id}`)).body).toEqual({ success: true });
    expect(await ws.nextOf('room_left')).toMatchObject({ room_id: id, reason: 'destroyed' });
    expect(server.deps.browsers.activeCount()).toBe(0);
    await waitFor(() => chromiumChildren().length === 0, 'Chromium to exit', 10_000);
  });

  it('destroying a room while its browser starts leaves no browser behind', async () => {
    const owner = await person(2);
    const id = await roomOn(owner);
    const starting = call(owner, 'POST', `/chats/${id}/start`);
    // The start has claimed the row and is opening its context.
    await waitFor(async () => (await roomRow(id))?.browserState === 'running', 'the start to claim the room');
    expect((await call(owner, 'DELETE', `/chats/${id}`)).body).toEqual({ success: true });
    expect([404, 409]).toContain((await starting).status);
    expect(server.deps.browsers.activeCount()).toBe(0);
    await waitFor(() => chromiumChildren().length === 0, 'Chromium to exit', 10_000);
  });

  it('closes the browser of a room whose row vanished while it started (a destroy that read it stopped)', async () => {
    const owner = await person(2);
    const id = await roomOn(owner);
    const starting = call(owner, 'POST', `/chats/${id}/start`);
    await waitFor(async () => (await roomRow(id))?.browserState === 'running', 'the start to claim the room');
    // What a destroy that had read the row before the claim does next: delete it, stop nothing.
    await server.deps.database.db.delete(rooms).where(eq(rooms.id, id));
    const res = await starting;
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('Chat not found');
    expect(server.deps.browsers.activeCount()).toBe(0);
    await waitFor(() => chromiumChildren().length === 0, 'Chromium to exit', 10_000);
  });

  it("closes a running room's browser when the owner's account is deleted", async () => {
    const owner = await person(2);
    const member = await person();
    const id = await roomOn(owner, '', [member]);
    const ws = await portal(member, id);
    expect((await call(owner, 'POST', `/chats/${id}/start`)).status).toBe(200);
    expect(isJpeg(await ws.nextBinary(10_000))).toBe(true);
    // The room row goes with the account (foreign key cascade); the node's sweep finds the orphan.
    await admin().users.delete({ username: owner.username, reason: 'test' });
    expect(await roomRow(id)).toBeUndefined();
    let state = await ws.nextOf('chat_state', 20_000);
    while (state.state === 'running') state = await ws.nextOf('chat_state', 20_000);
    expect(state).toMatchObject({ room_id: id, state: 'destroyed' });
    expect(await ws.nextOf('room_left')).toMatchObject({ room_id: id, reason: 'destroyed' });
    expect(server.deps.browsers.activeCount()).toBe(0);
    await waitFor(() => chromiumChildren().length === 0, 'Chromium to exit', 10_000);
  });

  it('skips frames for a viewer that stops reading; the others keep getting them', async () => {
    const owner = await person(2);
    const [fastUser, slowUser] = [await person(), await person()];
    // Large frames (noise does not compress) fill the kernel's socket buffers within seconds.
    const id = await roomOn(owner, 'noise', [fastUser, slowUser], { width: 1280, height: 720 });
    const fast = await portal(fastUser, id);
    const slow = await portal(slowUser, id);
    let slowFrames = 0;
    let fastFrames = 0;
    slow.ws.on('message', (_d: Buffer, binary: boolean) => void (binary && slowFrames++));
    fast.ws.on('message', (_d: Buffer, binary: boolean) => void (binary && fastFrames++));
    expect((await call(owner, 'POST', `/chats/${id}/start`)).status).toBe(200);
    await waitFor(() => slowFrames > 2 && fastFrames > 2, 'both viewers to get frames', 20_000);

    // The slow viewer stops reading (its TCP window fills, then the server's queue would).
    slow.ws.pause();
    const atPause = { fast: fastFrames, slow: slowFrames };
    await waitFor(() => fastFrames - atPause.fast >= 150, 'the fast viewer to keep getting frames', 90_000);
    slow.ws.resume();
    // Once it reads again it gets what was queued, then live frames; the socket was never dropped.
    const resumedAt = slowFrames;
    await waitFor(() => slowFrames > resumedAt, 'frames for the slow viewer again', 15_000);
    await new Promise((done) => setTimeout(done, 1500));
    expect(slow.ws.readyState, 'the slow viewer was dropped').toBe(slow.ws.OPEN);
    const fastGot = fastFrames - atPause.fast;
    const slowGot = slowFrames - atPause.slow;
    console.log('slow-viewer', { fastGot, slowGot });
    // Frames were skipped for it rather than queued: it got fewer than the fast viewer.
    expect(slowGot).toBeLessThan(fastGot);
    expect((await call(owner, 'POST', `/chats/${id}/stop`)).status).toBe(200);
    await waitFor(() => chromiumChildren().length === 0, 'Chromium to exit', 10_000);
  });
});
