import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { AppError } from '../../src/core/errors';
import { type ChromiumRuntime, createChromiumRuntime } from '../../src/services/rooms/browser/chromium';
import { startEgressProxy } from '../../src/services/rooms/browser/egress-proxy';
import { keyEffect } from '../../src/services/rooms/browser/input';
import {
  createHostResolver,
  type HostResolver,
  isPublicAddress,
} from '../../src/services/rooms/browser/network-guard';
import { type BrowserSession, ZBrowserInput } from '../../src/services/rooms/browser/runtime';
import { chromiumPath, chromiumSkipReason, descendantPids, isAlive } from '../helpers/chromium';

// The shared-browser runtime on a real headless Chromium. The test serves its own page on
// 127.0.0.1; the page reports what happens in it (clicks, pastes, clipboard reads) back to this
// server with fetch, so the test watches the remote browser from the outside like a member would.

const executablePath = chromiumPath();
const skipReason = chromiumSkipReason();
if (skipReason) console.warn(`Skipping the Chromium browser runtime tests: ${skipReason}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const PAGE = `<!doctype html>
<html><head><title>portal test page</title></head>
<body style="margin:0;font:16px sans-serif">
<button id="big" style="position:absolute;left:0;top:0;width:400px;height:200px">Click me</button>
<button id="writer" style="position:absolute;left:420px;top:0;width:160px;height:200px">Copy by script</button>
<button id="reader" style="position:absolute;left:600px;top:0;width:160px;height:200px">Read clipboard</button>
<textarea id="area" style="position:absolute;left:0;top:220px;width:400px;height:100px"></textarea>
<button id="popup" style="position:absolute;left:0;top:340px;width:200px;height:60px">Open popup</button>
<div id="box" style="position:absolute;left:420px;top:220px;width:100px;height:100px;background:#00f"></div>
<script>
  const room = new URLSearchParams(location.search).get('room') || '';
  const report = (path, params) => fetch(path + '?' + new URLSearchParams({ room, ...params })).catch(() => {});
  let frame = 0;
  const animate = () => { box.style.background = 'hsl(' + (frame++ * 7 % 360) + ',90%,50%)'; requestAnimationFrame(animate); };
  big.addEventListener('click', () => {
    document.body.style.background = '#c00';
    big.textContent = 'Clicked';
    requestAnimationFrame(animate);
    report('/clicked', {});
  });
  addEventListener('pageshow', () => report('/ready', { at: location.href }));
  popup.addEventListener('click', () => window.open('/?room=' + room + '&popup=1', '_blank'));
  area.addEventListener('paste', () => setTimeout(() => report('/pasted', { text: area.value }), 0));
  writer.addEventListener('click', () => navigator.clipboard.writeText('written by page').then(() => report('/wrote', {})));
  const read = () =>
    navigator.clipboard.readText().then((text) => report('/read', { text }), (e) => report('/read', { error: e.name }));
  reader.addEventListener('click', read);
  if (new URLSearchParams(location.search).get('autoread')) read();
  const stun = new URLSearchParams(location.search).get('stun');
  if (stun) {
    const peer = new RTCPeerConnection({ iceServers: [{ urls: 'stun:' + stun }] });
    peer.createDataChannel('probe');
    peer.onicegatheringstatechange = () => peer.iceGatheringState === 'complete' && report('/ice-done', {});
    peer.createOffer().then((offer) => peer.setLocalDescription(offer));
  }
  for (const url of new URLSearchParams(location.search).getAll('ws')) {
    const socket = new WebSocket(url);
    socket.onopen = () => report('/ws-open', { url });
    socket.onerror = () => report('/ws-error', { url });
  }
</script>
</body></html>`;

type Hit = { path: string; room: string; params: URLSearchParams };

async function startTestServer() {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://test');
    hits.push({ path: url.pathname, room: url.searchParams.get('room') ?? '', params: url.searchParams });
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    res.writeHead(204).end();
  });
  const sockets = new WebSocketServer({ server });
  sockets.on('connection', (socket, req) => {
    const url = new URL(req.url ?? '/', 'http://test');
    hits.push({ path: `ws:${url.pathname}`, room: '', params: url.searchParams });
    socket.on('error', () => {});
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as net.AddressInfo;
  return {
    hits,
    base: `http://127.0.0.1:${port}/`,
    port,
    close: async () => {
      for (const client of sockets.clients) client.terminate();
      await new Promise<void>((done) => sockets.close(() => done()));
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** Width and height from a JPEG's start-of-frame marker. */
function jpegSize(jpeg: Buffer): { width: number; height: number } {
  let at = 2;
  while (at < jpeg.length) {
    const marker = jpeg[at + 1]!;
    const length = jpeg.readUInt16BE(at + 2);
    if (marker >= 0xc0 && marker <= 0xc3) {
      return { height: jpeg.readUInt16BE(at + 5), width: jpeg.readUInt16BE(at + 7) };
    }
    at += 2 + length;
  }
  throw new Error('no SOF marker');
}

const isJpeg = (b: Buffer) =>
  b.length > 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff && b.at(-2) === 0xff && b.at(-1) === 0xd9;

function collectingLog() {
  const entries: Array<{ level: string; msg: string | undefined; obj: object }> = [];
  const at = (level: string) => (obj: object, msg?: string) => entries.push({ level, msg, obj });
  return { entries, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

async function expectAppError(promise: Promise<unknown>, status: number, message?: string) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).status).toBe(status);
  if (message) expect((err as AppError).message).toBe(message);
}

describe('isPublicAddress', () => {
  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '2002:0808:0808::1',
  ])('%s is public', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });

  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '100.64.0.1',
    '100.127.255.254',
    '169.254.169.254',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '[::1]',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '64:ff9b::a00:1',
    '2002:7f00:1::1',
    'not-an-ip',
    '',
  ])('%s is not public', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it('refuses a name when any of its addresses is private, and caches answers', async () => {
    let lookups = 0;
    const resolve = createHostResolver(async (host) => {
      lookups++;
      if (host === 'rebind.test') {
        return [
          { address: '93.184.216.34', family: 4 },
          { address: '127.0.0.1', family: 4 },
        ];
      }
      if (host === 'public.test') return [{ address: '93.184.216.34', family: 4 }];
      throw new Error('ENOTFOUND');
    });
    expect(await resolve('rebind.test')).toEqual({ ok: false, reason: 'private' });
    expect(await resolve('public.test')).toEqual({ ok: true, address: '93.184.216.34', family: 4 });
    expect(await resolve('PUBLIC.test.')).toEqual({ ok: true, address: '93.184.216.34', family: 4 });
    expect(await resolve('missing.test')).toEqual({ ok: false, reason: 'unresolved' });
    expect(await resolve('10.0.0.1')).toEqual({ ok: false, reason: 'private' });
    expect(lookups).toBe(3);
  });
});

describe('egress proxy', () => {
  let target: Awaited<ReturnType<typeof startTestServer>>;
  let proxy: Awaited<ReturnType<typeof startEgressProxy>>;
  const { log, entries } = collectingLog();

  beforeAll(async () => {
    target = await startTestServer();
    // "allowed.test" stands for a public site; it is really the test server on 127.0.0.1.
    proxy = await startEgressProxy({
      log,
      resolve: async (host) =>
        host === 'allowed.test'
          ? { ok: true, address: '127.0.0.1', family: 4 }
          : { ok: false, reason: 'private' },
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await target?.close();
  });

  const proxyPort = () => Number(new URL(proxy.url).port);

  function proxiedGet(url: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: proxyPort(),
        path: url,
        headers: { host: new URL(url).host },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  function connectStatus(authority: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(proxyPort(), '127.0.0.1', () => {
        socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
      });
      socket.once('data', (data) => {
        resolve(data.toString().split('\r\n')[0] ?? '');
        socket.destroy();
      });
      socket.on('error', reject);
    });
  }

  it('forwards plain HTTP to the checked address', async () => {
    const res = await proxiedGet(`http://allowed.test:${target.port}/`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('portal test page');
  });

  it('tunnels CONNECT to an allowed host and refuses private ones', async () => {
    expect(await connectStatus(`allowed.test:${target.port}`)).toBe('HTTP/1.1 200 Connection Established');
    const before = target.hits.length;
    expect(await connectStatus(`127.0.0.1:${target.port}`)).toBe('HTTP/1.1 403 Forbidden');
    expect(await connectStatus(`[::1]:${target.port}`)).toBe('HTTP/1.1 403 Forbidden');
    const res = await proxiedGet(`http://127.0.0.1:${target.port}/secret`);
    expect(res.status).toBe(403);
    expect(target.hits.length).toBe(before);
    expect(entries.some((e) => e.msg === 'room browser connection refused')).toBe(true);
  });
});

describe('ZBrowserInput', () => {
  it.each([
    { kind: 'mouse', action: 'click', x: 10, y: 20 },
    { kind: 'mouse', action: 'down', x: 0, y: 10_000, button: 'right' },
    { kind: 'key', action: 'press', key: 'Control+V' },
    { kind: 'key', action: 'type', text: 'hello' },
    { kind: 'scroll', x: 5, y: 5, dx: 0, dy: -300 },
    { kind: 'navigate', url: 'https://example.com/path?q=1' },
    { kind: 'navigate', action: 'back' },
  ])('accepts %j', (input) => {
    expect(ZBrowserInput.safeParse(input).success).toBe(true);
  });

  it.each([
    { kind: 'touch', x: 1, y: 1 },
    { kind: 'mouse', action: 'click', x: 10_001, y: 0 },
    { kind: 'mouse', action: 'click', x: -1, y: 0 },
    { kind: 'mouse', action: 'click', x: 1, y: 1, extra: true },
    { kind: 'mouse', action: 'wiggle', x: 1, y: 1 },
    { kind: 'key', action: 'press', key: '' },
    { kind: 'key', action: 'press', key: 'x'.repeat(33) },
    { kind: 'key', action: 'type', text: 'x'.repeat(1001) },
    { kind: 'key', action: 'type', key: 'a' },
    { kind: 'scroll', x: 1, y: 1, dx: 0, dy: 10_001 },
    { kind: 'navigate', url: 'javascript:alert(1)' },
    { kind: 'navigate', url: 'file:///etc/passwd' },
    { kind: 'navigate', url: `https://example.com/${'a'.repeat(2048)}` },
    { kind: 'navigate', action: 'back', url: 'https://example.com/' },
    { kind: 'navigate' },
  ])('rejects %j', (input) => {
    expect(ZBrowserInput.safeParse(input).success).toBe(false);
  });

  it('tells paste and copy key strokes apart', () => {
    const none = new Set<string>();
    expect(keyEffect('Control+V', none)).toBe('paste');
    expect(keyEffect('Meta+v', none)).toBe('paste');
    expect(keyEffect('Shift+Insert', none)).toBe('paste');
    expect(keyEffect('v', new Set(['Control']))).toBe('paste');
    expect(keyEffect('Control+c', none)).toBe('copy');
    expect(keyEffect('ControlOrMeta+x', none)).toBe('copy');
    expect(keyEffect('v', none)).toBe('none');
    expect(keyEffect('Control++', none)).toBe('none');
  });
});

describe.skipIf(!executablePath)('Chromium runtime', () => {
  const { log } = collectingLog();
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let runtime: ChromiumRuntime;
  let one: BrowserSession;
  const view = { width: 800, height: 600 };
  const hitsFor = (path: string, room: string) =>
    server.hits.filter((h) => h.path === path && h.room === room);
  /** Whether the page at exactly `url` has reported that it is shown. */
  const shownAt = (url: string) => server.hits.some((h) => h.path === '/ready' && h.params.get('at') === url);

  beforeAll(async () => {
    server = await startTestServer();
    runtime = createChromiumRuntime({
      executablePath: executablePath!,
      capacity: 3,
      allowPrivateNetworks: true,
      jpegQuality: 70,
      maxFps: 10,
      log,
    });
  });
  afterAll(async () => {
    await runtime?.close();
    await server?.close();
  });

  it('starts a room once, even when asked twice at the same time', async () => {
    const opts = { url: `${server.base}?room=1`, ...view };
    const [a, b] = await Promise.all([runtime.start(1, opts), runtime.start(1, opts)]);
    expect(a).toBe(b);
    expect(await runtime.start(1, opts)).toBe(a);
    expect(runtime.activeCount()).toBe(1);
    expect(runtime.has(1)).toBe(true);
    expect(runtime.get(1)).toBe(a);
    expect(a.currentUrl()).toBe(opts.url);
    one = a;
    const pid = runtime.browserPid();
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid!)).toBe(true);
    await waitFor(() => hitsFor('/ready', '1').length > 0, 'the page to load');
  });

  it('takes a JPEG screenshot of the viewport', async () => {
    const jpeg = await one.screenshot();
    expect(isJpeg(jpeg)).toBe(true);
    expect(jpegSize(jpeg)).toEqual(view);
    const small = await one.screenshot(10);
    expect(isJpeg(small)).toBe(true);
    expect(small.length).toBeLessThan(jpeg.length);
  });

  it('clicks into the page and streams the change, at most maxFps', async () => {
    const frames: Array<{ at: number; jpeg: Buffer }> = [];
    const unsubscribe = one.onFrame((jpeg) => frames.push({ at: Date.now(), jpeg }));
    // A throwing listener must not stop the others.
    const unsubscribeBad = one.onFrame(() => {
      throw new Error('listener bug');
    });
    await one.input({ kind: 'mouse', action: 'click', x: 200, y: 100 });
    await waitFor(() => hitsFor('/clicked', '1').length > 0, 'the click to reach the page');
    const clickedAt = Date.now();
    const after = await waitFor(() => frames.find((f) => f.at >= clickedAt), 'a frame after the click');
    expect(isJpeg(after.jpeg)).toBe(true);
    expect(jpegSize(after.jpeg)).toEqual(view);
    // The page now animates every frame: frames keep coming, never more than 10 a second (plus
    // one held frame at each end). A slow machine only makes the bound looser, never the test flaky.
    const countFrom = frames.length;
    const from = Date.now();
    await waitFor(() => frames.length - countFrom >= 3, 'frames of the animating page');
    await sleep(1_500);
    const streamed = frames.length - countFrom;
    expect(streamed).toBeLessThanOrEqual(Math.ceil(((Date.now() - from) / 1000) * 10) + 2);
    unsubscribe();
    unsubscribeBad();
    const stoppedAt = frames.length;
    await sleep(400);
    expect(frames.length).toBe(stoppedAt);
  });

  it('moves the clipboard both ways', async () => {
    const copies: string[] = [];
    const stopCopies = one.onClipboard((text) => copies.push(text));

    // Member → page: Ctrl+V in the page pastes what a member set.
    await one.setClipboard('hello from portal');
    await one.input({ kind: 'mouse', action: 'click', x: 200, y: 270 });
    await one.input({ kind: 'key', action: 'press', key: 'Control+V' });
    const pasted = await waitFor(() => hitsFor('/pasted', '1')[0], 'the paste');
    expect(pasted.params.get('text')).toBe('hello from portal');

    // Page → members: a user copy of a selection.
    await one.input({ kind: 'key', action: 'type', text: ' and back' });
    await one.input({ kind: 'key', action: 'press', key: 'Control+A' });
    await one.input({ kind: 'key', action: 'press', key: 'Control+C' });
    await waitFor(() => copies.includes('hello from portal and back'), 'the copied selection');

    // Page → members: the page writing the async Clipboard API.
    await one.input({ kind: 'mouse', action: 'click', x: 500, y: 100 });
    await waitFor(() => copies.includes('written by page'), 'the text the page wrote');
    expect(copies).toEqual(['hello from portal and back', 'written by page']);

    // The page reads the room's clipboard (after a click, like a "paste" button).
    await one.setClipboard('for the reader');
    await one.input({ kind: 'mouse', action: 'click', x: 680, y: 100 });
    const read = await waitFor(() => hitsFor('/read', '1')[0], 'the page to read the clipboard');
    expect(read.params.get('text')).toBe('for the reader');
    stopCopies();
  });

  it('keeps each room clipboard to itself', async () => {
    const two = await runtime.start(2, { url: `${server.base}?room=2`, ...view });
    const three = await runtime.start(3, { url: `${server.base}?room=3`, ...view });
    expect(runtime.activeCount()).toBe(3);
    await two.setClipboard('room two text');
    await two.input({ kind: 'mouse', action: 'click', x: 200, y: 270 });
    await two.input({ kind: 'key', action: 'press', key: 'Control+V' });
    const pastedTwo = await waitFor(() => hitsFor('/pasted', '2')[0], 'the paste in room 2');
    expect(pastedTwo.params.get('text')).toBe('room two text');

    // Room 3 never set a clipboard: it must not paste what room 1 or 2 left behind.
    await three.input({ kind: 'mouse', action: 'click', x: 200, y: 270 });
    await three.input({ kind: 'key', action: 'down', key: 'Control' });
    await three.input({ kind: 'key', action: 'press', key: 'v' });
    await three.input({ kind: 'key', action: 'up', key: 'Control' });
    const pastedThree = await waitFor(() => hitsFor('/pasted', '3')[0], 'the paste in room 3');
    expect(pastedThree.params.get('text')).toBe('');
    // Its page reads its own (empty) clipboard after a click, and nothing without one.
    await three.input({ kind: 'mouse', action: 'click', x: 680, y: 100 });
    const readThree = await waitFor(() => hitsFor('/read', '3')[0], 'the read in room 3');
    expect(readThree.params.get('text')).toBe('');
    await three.input({ kind: 'navigate', url: `${server.base}?room=3&autoread=1` });
    const unprompted = await waitFor(() => hitsFor('/read', '3')[1], 'the read without a gesture');
    expect(unprompted.params.get('error')).toBe('NotAllowedError');

    // Room 1 still pastes its own clipboard (the reader text it was given last).
    const before = hitsFor('/pasted', '1').length;
    await one.input({ kind: 'mouse', action: 'click', x: 200, y: 270 });
    await one.input({ kind: 'key', action: 'press', key: 'Control+A' });
    await one.input({ kind: 'key', action: 'press', key: 'Control+V' });
    const again = await waitFor(() => hitsFor('/pasted', '1')[before], 'the second paste in room 1');
    expect(again.params.get('text')).toBe('for the reader');
    await runtime.stop(3);
    expect(runtime.has(3)).toBe(false);
  });

  it('refuses bad input with clear errors', async () => {
    await expectAppError(
      one.input({ kind: 'key', action: 'press', key: 'NoSuchKey' }),
      400,
      'Unknown key "NoSuchKey"',
    );
    await expectAppError(one.input({ kind: 'navigate', url: 'javascript:alert(1)' } as never), 400);
    await expectAppError(one.input({ kind: 'mouse', action: 'click', x: 1e9, y: 0 } as never), 400);
    await expectAppError(runtime.start(9, { url: 'file:///etc/passwd', ...view }), 400);
  });

  it('navigates across sites and back, and keeps streaming', async () => {
    const frames: number[] = [];
    const unsubscribe = one.onFrame(() => frames.push(Date.now()));
    // localhost and 127.0.0.1 are different sites: Chromium swaps the renderer process.
    const elsewhere = `http://localhost:${server.port}/?room=1&page=2`;
    await one.input({ kind: 'navigate', url: elsewhere });
    // The page it came from may still report a late `pageshow`: wait for the new page's own.
    await waitFor(() => shownAt(elsewhere) || undefined, 'the new page');
    expect(one.currentUrl()).toBe(elsewhere);
    const navigatedAt = Date.now();
    await one.input({ kind: 'mouse', action: 'click', x: 200, y: 100 });
    await waitFor(() => frames.some((at) => at > navigatedAt) || undefined, 'a frame from the new page');
    expect(jpegSize(await one.screenshot())).toEqual(view);
    unsubscribe();
    await one.input({ kind: 'navigate', action: 'back' });
    await waitFor(() => one.currentUrl() === `${server.base}?room=1` || undefined, 'going back');
  });

  it('opens popups in the room page instead of a tab nobody sees', async () => {
    await one.input({ kind: 'navigate', url: `${server.base}?room=1&tab=1` });
    await waitFor(
      () => shownAt(`${server.base}?room=1&tab=1`) || undefined,
      'the page with the popup button',
    );
    await one.input({ kind: 'mouse', action: 'click', x: 100, y: 370 });
    await waitFor(
      () => one.currentUrl() === `${server.base}?room=1&popup=1` || undefined,
      'the popup address',
    );
    expect(runtime.get(1)).toBe(one);
    await one.input({ kind: 'navigate', action: 'back' });
    await waitFor(() => one.currentUrl() === `${server.base}?room=1&tab=1` || undefined, 'going back');
  });

  it('stops the Chromium process with the last room', async () => {
    const pid = runtime.browserPid()!;
    const children = descendantPids(pid);
    expect(children.length).toBeGreaterThan(0);
    const two = runtime.get(2)!;
    await runtime.stop(2);
    expect(isAlive(pid)).toBe(true);
    await runtime.stop(1);
    await runtime.stop(1);
    expect(runtime.activeCount()).toBe(0);
    expect(runtime.browserPid()).toBeUndefined();
    await waitFor(() => !isAlive(pid), 'the browser process to exit', 5_000);
    await waitFor(() => children.every((child) => !isAlive(child)), 'its child processes to exit', 5_000);
    await expectAppError(one.input({ kind: 'mouse', action: 'click', x: 1, y: 1 }), 409);
    await expectAppError(two.screenshot(), 409);
    await runtime.close();
    await runtime.close();
    await expectAppError(runtime.start(1, { url: server.base, ...view }), 503);
  });
});

const hitsFor = (server: { hits: Hit[] }, path: string, room: string) =>
  server.hits.filter((h) => h.path === path && h.room === room);

describe.skipIf(!executablePath)('Chromium runtime limits', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const make = (capacity: number, allowPrivateNetworks = true, log = collectingLog().log) =>
    createChromiumRuntime({
      executablePath: executablePath!,
      capacity,
      allowPrivateNetworks,
      jpegQuality: 60,
      maxFps: 5,
      log,
    });
  const runtimes: ChromiumRuntime[] = [];

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await server?.close();
  });

  it('refuses rooms past capacity, and all rooms at capacity 0', async () => {
    const disabled = make(0);
    runtimes.push(disabled);
    await expectAppError(
      disabled.start(1, { url: server.base, width: 640, height: 480 }),
      503,
      'Shared browsers are disabled on this server',
    );

    const single = make(1);
    runtimes.push(single);
    await single.start(1, { url: `${server.base}?room=cap`, width: 640, height: 480 });
    await expectAppError(
      single.start(2, { url: server.base, width: 640, height: 480 }),
      503,
      'Browser capacity reached, try again later',
    );
    expect(single.capacity).toBe(1);
    await single.close();
  });

  it('closes a room stopped while it was starting', async () => {
    const runtime = make(2);
    runtimes.push(runtime);
    const starting = runtime.start(1, { url: `${server.base}?room=cancel`, width: 640, height: 480 });
    const refused = expectAppError(starting, 409);
    await runtime.stop(1);
    await refused;
    expect(runtime.activeCount()).toBe(0);
    expect(runtime.browserPid()).toBeUndefined();
    // And the room can start again afterwards.
    const again = await runtime.start(1, { url: `${server.base}?room=cancel`, width: 640, height: 480 });
    expect(runtime.get(1)).toBe(again);
    await runtime.close();
  });

  it('lets pages reach public hosts only, WebSockets included, and WebRTC nowhere', async () => {
    const { log, entries } = collectingLog();
    // A STUN server on loopback: WebRTC's UDP would go straight there, around the proxy.
    const stun = dgram.createSocket('udp4');
    let stunPackets = 0;
    stun.on('message', () => stunPackets++);
    await new Promise<void>((done) => stun.bind(0, '127.0.0.1', done));
    const dns = createHostResolver();
    // "public.test" stands for a site on the internet; it is really the test server.
    const resolveHost: HostResolver = async (host) =>
      host === 'public.test' ? { ok: true, address: '127.0.0.1', family: 4 } : dns(host);
    const runtime = createChromiumRuntime({
      executablePath: executablePath!,
      capacity: 1,
      allowPrivateNetworks: false,
      jpegQuality: 60,
      maxFps: 5,
      log,
      resolveHost,
    });
    runtimes.push(runtime);
    const site = `http://public.test:${server.port}/`;
    const query = new URLSearchParams([
      ['room', 'public'],
      ['ws', `ws://public.test:${server.port}/allowed`],
      ['ws', `ws://127.0.0.1:${server.port}/private`],
      ['stun', `127.0.0.1:${stun.address().port}`],
    ]);
    await runtime.start(1, { url: `${site}?${query}`, width: 640, height: 480 });
    const opened = await waitFor(() => hitsFor(server, '/ws-open', 'public')[0], 'the public WebSocket');
    const failed = await waitFor(() => hitsFor(server, '/ws-error', 'public')[0], 'the private WebSocket');
    expect(opened.params.get('url')).toBe(`ws://public.test:${server.port}/allowed`);
    expect(failed.params.get('url')).toBe(`ws://127.0.0.1:${server.port}/private`);
    expect(server.hits.map((h) => h.path).filter((p) => p.startsWith('ws:'))).toEqual(['ws:/allowed']);
    expect(entries.some((e) => e.msg === 'room browser connection refused')).toBe(true);
    await waitFor(() => hitsFor(server, '/ice-done', 'public')[0], 'ICE gathering to finish');
    expect(stunPackets).toBe(0);
    stun.close();
    await runtime.close();
  });

  it('keeps room browsers off private networks', async () => {
    const { log, entries } = collectingLog();
    const runtime = make(1, false, log);
    runtimes.push(runtime);
    const session = await runtime.start(1, { url: `${server.base}?room=guard`, width: 640, height: 480 });
    await session.input({ kind: 'navigate', url: `http://localhost:${server.port}/?room=guard` });
    await waitFor(
      () => entries.filter((e) => e.msg === 'room browser connection refused').length >= 2 || undefined,
      'both requests to be refused',
    );
    await sleep(300);
    expect(server.hits.filter((h) => h.room === 'guard')).toEqual([]);
    expect(isJpeg(await session.screenshot())).toBe(true);

    // The browser dying is noticed: the room's session ends and says so once.
    let closedCalls = 0;
    session.onClosed(() => closedCalls++);
    const pid = runtime.browserPid()!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => closedCalls === 1 || undefined, 'onClosed after the crash');
    expect(runtime.has(1)).toBe(false);
    await expectAppError(session.input({ kind: 'mouse', action: 'click', x: 1, y: 1 }), 409);
    // A new start launches a new browser.
    const next = await runtime.start(1, { url: 'https://example.invalid/', width: 640, height: 480 });
    expect(runtime.browserPid()).not.toBe(pid);
    expect(next).not.toBe(session);
    await runtime.close();
    expect(closedCalls).toBe(1);
  });
});
