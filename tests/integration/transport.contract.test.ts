import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AppError } from '../../src/core/errors';
import { CloseCode } from '../../src/realtime/protocol';
import { createTransport } from '../../src/realtime/transport';
import type { RealtimeSocket, RealtimeTransport, TransportOptions, WsRoute } from '../../src/realtime/types';

// One contract, two transports: every behaviour hubs and clients rely on must hold on uWS (reached
// through the public-port bridge, and once directly) and on the ws fallback alike.

type Kind = 'uws' | 'ws';
type LogEntry = { level: 'info' | 'warn' | 'error'; obj: object; msg: string | undefined };
type Frame = { data: Buffer; isBinary: boolean };
type Closed = { code: number; reason: string };

const MAX_BACKPRESSURE = 256 * 1024;
const MAX_PAYLOAD = 64 * 1024;

function recordingLog() {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (obj: object, msg?: string) => {
    entries.push({ level, obj, msg });
  };
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Client = {
  ws: WebSocket;
  next(): Promise<Frame>;
  nextJson(): Promise<Record<string, unknown>>;
  closed: Promise<Closed>;
};

const clients = new Set<WebSocket>();

/** Queues frames from the first byte, so nothing sent by onOpen is missed. */
function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const ws = new WebSocket(url, { headers });
  clients.add(ws);
  const frames: Frame[] = [];
  const waiters: Array<(f: Frame) => void> = [];
  ws.on('error', () => {});
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const frame = { data, isBinary };
    const waiter = waiters.shift();
    if (waiter) waiter(frame);
    else frames.push(frame);
  });
  const closed = new Promise<Closed>((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  const next = () => {
    const queued = frames.shift();
    return queued ? Promise.resolve(queued) : new Promise<Frame>((resolve) => waiters.push(resolve));
  };
  const nextJson = async () => JSON.parse((await next()).data.toString()) as Record<string, unknown>;
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, next, nextJson, closed }));
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused with ${res.statusCode}`)),
    );
    ws.once('close', () => reject(new Error('closed before open')));
  });
}

type RefusalSeen = { status: number; body: Record<string, unknown>; correlationHeader: unknown };

function refusal(url: string, headers: Record<string, string> = {}): Promise<RefusalSeen> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('error', () => {});
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.once('unexpected-response', (req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(text) as Record<string, unknown>,
          correlationHeader: res.headers['x-correlation-id'],
        });
      });
    });
  });
}

type Auth = {
  ip: string;
  token: string | null;
  headers: Record<string, string>;
  params: Record<string, string>;
};
type Hub = {
  opened: RealtimeSocket<unknown>[];
  closes: Array<Closed & { id: string; route: string }>;
  sink: { done: Promise<{ sent: number; maxBuffered: number }> } | null;
};

function routesFor(hub: Hub): WsRoute<Auth>[] {
  const authenticate = (req: Parameters<WsRoute<Auth>['authenticate']>[0]): Auth => ({
    ip: req.ip,
    token: req.query.get('token'),
    headers: req.headers,
    params: req.params,
  });
  const base = {
    authenticate,
    onOpen: (s: RealtimeSocket<Auth>) => {
      hub.opened.push(s);
    },
    onClose: (s: RealtimeSocket<Auth>, code: number, reason: string) => {
      hub.closes.push({ id: s.id, route: s.route, code, reason });
    },
    onMessage: (s: RealtimeSocket<Auth>, data: string | Buffer, isBinary: boolean) => {
      if (data === 'whoami') s.sendJson({ auth: s.auth, ip: s.ip });
      else s.send(data, isBinary);
    },
  };
  const describeOnOpen = (s: RealtimeSocket<Auth>) => {
    hub.opened.push(s);
    s.sendJson({ route: s.route, params: s.params, auth: s.auth, query: s.query.get('token') });
  };
  return [
    // Registered before the literal route on purpose: precedence must not depend on order.
    { ...base, pattern: '/ws/:plugin/:serviceId', onOpen: describeOnOpen },
    { ...base, pattern: '/ws/user-connection/:id', onOpen: describeOnOpen },
    { ...base, pattern: '/ws/echo' },
    { ...base, pattern: '/ws/small', maxPayloadBytes: 1024 },
    { ...base, pattern: '/ws/rate', messagesPerSecond: 5 },
    {
      ...base,
      pattern: '/ws/secure',
      authenticate(req) {
        if (req.query.get('token') !== 'good') throw new AppError('UNAUTHORIZED');
        return authenticate(req);
      },
    },
    { ...base, pattern: '/ws/limited', limitKey: (auth) => auth.token },
    {
      ...base,
      pattern: '/ws/topics',
      onMessage(s, data) {
        const msg = JSON.parse(String(data)) as { op: string; topic?: string; text?: string };
        if (msg.op === 'subscribe' && msg.topic) s.subscribe(msg.topic);
        if (msg.op === 'unsubscribe' && msg.topic) s.unsubscribe(msg.topic);
        s.sendJson({ ok: msg.op, text: msg.text });
      },
    },
    {
      ...base,
      pattern: '/ws/throw',
      onMessage(_s, data) {
        if (data === 'sync') throw new Error('hub bug (sync)');
        return Promise.reject(new Error('hub bug (async)'));
      },
    },
    {
      ...base,
      pattern: '/ws/sink',
      onMessage(s, data) {
        if (data !== 'flood') return;
        const chunk = Buffer.alloc(64 * 1024, 7);
        let sent = 0;
        let maxBuffered = 0;
        hub.sink = {
          done: new Promise((resolve, reject) => {
            const tick = () => {
              for (let i = 0; i < 8; i++) {
                if (!s.send(chunk)) {
                  resolve({ sent, maxBuffered });
                  return;
                }
                sent += chunk.length;
                maxBuffered = Math.max(maxBuffered, s.bufferedAmount);
              }
              if (sent > 1024 * 1024 * 1024) reject(new Error('slow consumer was never dropped'));
              else setImmediate(tick);
            };
            tick();
          }),
        };
      },
    },
  ];
}

type Stack = {
  transport: RealtimeTransport;
  server: Server;
  base: string;
  directPort: number | null;
  hub: Hub;
  log: ReturnType<typeof recordingLog>;
  close(): Promise<void>;
};

const stacks: Stack[] = [];

async function startStack(kind: Kind, overrides: Partial<TransportOptions> = {}): Promise<Stack> {
  const log = recordingLog();
  const transport = createTransport(kind, {
    host: '127.0.0.1',
    port: 0,
    maxPayloadBytes: MAX_PAYLOAD,
    maxBackpressureBytes: MAX_BACKPRESSURE,
    messagesPerSecond: 1000,
    idleTimeoutSeconds: 60,
    maxSocketsPerKey: 2,
    trustProxy: undefined,
    log,
    ...overrides,
  });
  const hub: Hub = { opened: [], closes: [], sink: null };
  for (const route of routesFor(hub)) transport.route(route);
  const directPort = await transport.listen();
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  transport.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let closed = false;
  const stack: Stack = {
    transport,
    server,
    base: `ws://127.0.0.1:${port}`,
    directPort,
    hub,
    log,
    async close() {
      if (closed) return;
      closed = true;
      await transport.closeAll(CloseCode.GOING_AWAY, 'test over');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  stacks.push(stack);
  return stack;
}

afterAll(async () => {
  for (const ws of clients) ws.terminate();
  await Promise.all(stacks.map((s) => s.close()));
});

function transportContract(kind: Kind) {
  describe(`${kind} transport`, () => {
    let stack: Stack;
    let trusting: Stack;

    beforeAll(async () => {
      stack = await startStack(kind);
      trusting = await startStack(kind, { trustProxy: 'loopback' });
    });

    it('runs the requested transport; listen() reports the direct port only on uWS', () => {
      expect(stack.transport.kind).toBe(kind);
      if (kind === 'uws') expect(stack.directPort).toBeGreaterThan(0);
      else expect(stack.directPort).toBeNull();
    });

    it('leaves plain HTTP requests to the node server', async () => {
      const res = await fetch(stack.base.replace('ws:', 'http:'));
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('ok');
    });

    it('routes params (URI-decoded) and prefers literal segments over parameters', async () => {
      const plugin = await connect(`${stack.base}/ws/ssh/web%201?token=abc`, { 'x-custom': 'yes' });
      const seen = await plugin.nextJson();
      expect(seen.route).toBe('/ws/:plugin/:serviceId');
      expect(seen.params).toEqual({ plugin: 'ssh', serviceId: 'web 1' });
      expect(seen.query).toBe('abc');
      const auth = seen.auth as Auth;
      expect(auth.token).toBe('abc');
      expect(auth.params).toEqual({ plugin: 'ssh', serviceId: 'web 1' });
      expect(auth.headers['x-custom']).toBe('yes');

      const literal = await connect(`${stack.base}/ws/user-connection/aB3x_kLm9`);
      const lit = await literal.nextJson();
      expect(lit.route).toBe('/ws/user-connection/:id');
      expect(lit.params).toEqual({ id: 'aB3x_kLm9' });
      plugin.ws.close();
      literal.ws.close();
    });

    it('refuses a failed authentication with the HTTP status and the JSON error body', async () => {
      const seen = await refusal(`${stack.base}/ws/secure?token=bad`);
      expect(seen.status).toBe(401);
      expect(seen.body).toEqual({
        error: 'Authentication required',
        status: 401,
        correlation_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(seen.correlationHeader).toBe(seen.body.correlation_id);
      const ok = await connect(`${stack.base}/ws/secure?token=good`);
      ok.ws.close();
    });

    it('answers 404 for unknown WebSocket paths and for upgrades outside /ws/', async () => {
      for (const path of ['/ws/a/b/c', '/ws', '/elsewhere']) {
        const seen = await refusal(`${stack.base}${path}`);
        expect(seen.status).toBe(404);
        expect(seen.body).toMatchObject({ error: 'Not found', status: 404 });
        expect(typeof seen.body.correlation_id).toBe('string');
      }
    });

    it('echoes text and binary frames', async () => {
      const c = await connect(`${stack.base}/ws/echo`);
      c.ws.send('hello');
      const text = await c.next();
      expect(text.isBinary).toBe(false);
      expect(text.data.toString()).toBe('hello');
      c.ws.send(Buffer.from([0, 1, 2, 255]));
      const bin = await c.next();
      expect(bin.isBinary).toBe(true);
      expect([...bin.data]).toEqual([0, 1, 2, 255]);
      c.ws.close();
    });

    it('publishes to subscribers only, and unsubscribe stops delivery', async () => {
      const [a, b, other] = await Promise.all([1, 2, 3].map(() => connect(`${stack.base}/ws/topics`)));
      const send = (c: Client, msg: object) => c.ws.send(JSON.stringify(msg));
      send(a!, { op: 'subscribe', topic: 'room:1' });
      send(b!, { op: 'subscribe', topic: 'room:1' });
      send(other!, { op: 'subscribe', topic: 'room:2' });
      for (const c of [a!, b!, other!]) expect(await c.nextJson()).toMatchObject({ ok: 'subscribe' });

      stack.transport.publish('room:1', 'hello room 1');
      stack.transport.publish('room:1', Buffer.from([9, 9]));
      stack.transport.publish('room:2', 'marker');
      for (const c of [a!, b!]) {
        const t = await c.next();
        expect([t.isBinary, t.data.toString()]).toEqual([false, 'hello room 1']);
        const bin = await c.next();
        expect([bin.isBinary, [...bin.data]]).toEqual([true, [9, 9]]);
      }
      // Per-socket order is preserved, so had room:1 reached `other`, it would precede the marker.
      expect((await other!.next()).data.toString()).toBe('marker');

      send(a!, { op: 'unsubscribe', topic: 'room:1' });
      expect(await a!.nextJson()).toMatchObject({ ok: 'unsubscribe' });
      stack.transport.publish('room:1', 'after unsubscribe');
      expect((await b!.next()).data.toString()).toBe('after unsubscribe');
      send(a!, { op: 'echo', text: 'marker' });
      expect(await a!.nextJson()).toEqual({ ok: 'echo', text: 'marker' });
      for (const c of [a!, b!, other!]) c.ws.close();
    });

    it('closes a socket that floods messages with 4429', async () => {
      const c = await connect(`${stack.base}/ws/rate`);
      for (let i = 0; i < 50; i++) c.ws.send(`m${i}`);
      expect((await c.closed).code).toBe(CloseCode.RATE_LIMITED);
    });

    it('closes with 1009 when a frame exceeds the payload limit (global and per route)', async () => {
      const echo = await connect(`${stack.base}/ws/echo`);
      echo.ws.send(Buffer.alloc(MAX_PAYLOAD + 1000));
      expect((await echo.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);

      const small = await connect(`${stack.base}/ws/small`);
      small.ws.send(Buffer.alloc(1000));
      expect((await small.next()).data.length).toBe(1000);
      small.ws.send(Buffer.alloc(2000));
      expect((await small.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
      await waitFor(() => stack.hub.closes.some((c) => c.route === '/ws/small'), 'server-side close');
      expect(stack.hub.closes.find((c) => c.route === '/ws/small')?.code).toBe(CloseCode.MESSAGE_TOO_BIG);
    });

    it('reports 1009 to the hub even for a frame far beyond the limit', async () => {
      const c = await connect(`${stack.base}/ws/echo`);
      await waitFor(() => stack.hub.opened.some((s) => s.route === '/ws/echo' && !s.closed), 'server socket');
      const server = stack.hub.opened.filter((s) => s.route === '/ws/echo').at(-1)!;
      c.ws.send(Buffer.alloc(MAX_PAYLOAD * 4));
      // uWS cuts frames over twice the limit without a close frame (1006); ws sends 1009.
      expect([CloseCode.MESSAGE_TOO_BIG, ...(kind === 'uws' ? [1006] : [])]).toContain((await c.closed).code);
      await waitFor(() => stack.hub.closes.some((x) => x.id === server.id), 'server-side close');
      expect(stack.hub.closes.find((x) => x.id === server.id)?.code).toBe(CloseCode.MESSAGE_TOO_BIG);
    });

    it('drops a slow consumer with 4008 instead of buffering without bound', async () => {
      const c = await connect(`${stack.base}/ws/sink`);
      (c.ws as unknown as { _socket: Socket })._socket.pause();
      stack.hub.sink = null;
      c.ws.send('flood');
      await waitFor(() => stack.hub.sink !== null, 'flood to start');
      const { sent, maxBuffered } = await stack.hub.sink!.done;
      // Server-side queue never exceeds the limit by more than the one frame accepted below it.
      expect(maxBuffered).toBeLessThanOrEqual(MAX_BACKPRESSURE + 64 * 1024 + 16);
      expect(sent).toBeGreaterThan(MAX_BACKPRESSURE);
      await waitFor(() => stack.hub.closes.some((x) => x.route === '/ws/sink'), 'server-side close');
      expect(stack.hub.closes.find((x) => x.route === '/ws/sink')?.code).toBe(CloseCode.SLOW_CONSUMER);
      const socket = stack.hub.opened.find((s) => s.route === '/ws/sink')!;
      expect(socket.closed).toBe(true);
      expect(socket.send('more')).toBe(false);
      expect(socket.bufferedAmount).toBe(0);
      c.ws.terminate();
    });

    it('drops a subscriber that stops reading while publish() floods its topic', async () => {
      const opened = stack.hub.opened.length;
      const c = await connect(`${stack.base}/ws/topics`);
      c.ws.send(JSON.stringify({ op: 'subscribe', topic: 'flood' }));
      expect(await c.nextJson()).toMatchObject({ ok: 'subscribe' });
      const server = stack.hub.opened.slice(opened).find((s) => s.route === '/ws/topics')!;
      (c.ws as unknown as { _socket: Socket })._socket.pause();
      const chunk = Buffer.alloc(64 * 1024, 3);
      let published = 0;
      while (!server.closed) {
        if (published > 1024 * 1024 * 1024) throw new Error('slow subscriber was never dropped');
        for (let i = 0; i < 8; i++) stack.transport.publish('flood', chunk);
        published += 8 * chunk.length;
        await new Promise((r) => setImmediate(r));
      }
      expect(published).toBeGreaterThan(MAX_BACKPRESSURE);
      await waitFor(() => stack.hub.closes.some((x) => x.id === server.id), 'server-side close');
      // ws goes through TransportSocket.send (4008); uWS's native publish is cut by uWS itself (1006).
      const code = stack.hub.closes.find((x) => x.id === server.id)?.code;
      expect([CloseCode.SLOW_CONSUMER, ...(kind === 'uws' ? [1006] : [])]).toContain(code);
      expect(server.closed).toBe(true);
      c.ws.terminate();
    });

    it('caps sockets per limitKey with a 429 refusal and frees the slot on close', async () => {
      const first = await connect(`${stack.base}/ws/limited?token=alice`);
      const second = await connect(`${stack.base}/ws/limited?token=alice`);
      const seen = await refusal(`${stack.base}/ws/limited?token=alice`);
      expect(seen.status).toBe(429);
      expect(seen.body).toMatchObject({ error: 'Too many requests', status: 429 });
      const bob = await connect(`${stack.base}/ws/limited?token=bob`);
      const before = stack.hub.closes.length;
      first.ws.close();
      await waitFor(() => stack.hub.closes.length > before, 'slot release');
      const third = await connect(`${stack.base}/ws/limited?token=alice`);
      for (const c of [second, bob, third]) c.ws.close();
    });

    it('survives hub handlers that throw or reject: the socket gets 4500, the process goes on', async () => {
      for (const mode of ['sync', 'async']) {
        const c = await connect(`${stack.base}/ws/throw`);
        c.ws.send(mode);
        expect((await c.closed).code).toBe(CloseCode.INTERNAL);
      }
      const failures = stack.log.entries.filter(
        (e) => e.level === 'error' && e.msg === 'websocket handler failed',
      );
      expect(failures.length).toBeGreaterThanOrEqual(2);
      const echo = await connect(`${stack.base}/ws/echo`);
      echo.ws.send('still alive');
      expect((await echo.next()).data.toString()).toBe('still alive');
      echo.ws.close();
    });

    it('sees the real client IP; bridge headers from clients and untrusted X-Forwarded-For are ignored', async () => {
      const spoof = {
        'x-portal-client-ip': '6.6.6.6',
        'x-portal-bridge': 'guessed-secret',
        'x-forwarded-for': '203.0.113.7',
      };
      const c = await connect(`${stack.base}/ws/echo`, spoof);
      c.ws.send('whoami');
      const seen = (await c.nextJson()) as { auth: Auth; ip: string };
      expect(seen.ip).toBe('127.0.0.1');
      expect(seen.auth.ip).toBe('127.0.0.1');
      expect(seen.auth.headers['x-portal-client-ip']).toBeUndefined();
      expect(seen.auth.headers['x-portal-bridge']).toBeUndefined();
      c.ws.close();
    });

    it('honours X-Forwarded-For only when TRUST_PROXY trusts the hop', async () => {
      const c = await connect(`${trusting.base}/ws/echo`, { 'x-forwarded-for': '203.0.113.7' });
      c.ws.send('whoami');
      expect(((await c.nextJson()) as { ip: string }).ip).toBe('203.0.113.7');
      c.ws.close();
    });

    if (kind === 'uws') {
      it('reports a drain once bytes queued for a client that paused reading are written out', async () => {
        const c = await connect(`ws://127.0.0.1:${stack.directPort}/ws/echo`);
        c.ws.send('hello');
        await c.next();
        const server = stack.hub.opened.filter((s) => s.route === '/ws/echo').at(-1)!;
        let drains = 0;
        const off = server.onDrain(() => drains++);
        const raw = (c.ws as unknown as { _socket: Socket })._socket;
        raw.pause();
        // Below the slow-consumer limit, but more than the kernel's buffers take at once.
        for (let i = 0; i < 1024 && server.bufferedAmount < MAX_BACKPRESSURE / 2; i++) {
          server.send(Buffer.alloc(16 * 1024, i), true);
          await new Promise((r) => setTimeout(r, 1));
        }
        expect(server.bufferedAmount).toBeGreaterThan(0);
        expect(drains).toBe(0);
        raw.resume();
        await waitFor(() => drains > 0 && server.bufferedAmount === 0, 'a drain with an empty queue');
        off();
        const seen = drains;
        server.send(Buffer.alloc(16 * 1024), true);
        await new Promise((r) => setTimeout(r, 50));
        expect(drains).toBe(seen);
        c.ws.close();
      });

      it('serves the uWS direct port too (refusals, echo, spoof-proof IP, X-Forwarded-For)', async () => {
        const direct = `ws://127.0.0.1:${stack.directPort}`;
        const seen = await refusal(`${direct}/ws/secure`);
        expect(seen.status).toBe(401);
        expect(seen.body).toMatchObject({ error: 'Authentication required', status: 401 });
        const c = await connect(`${direct}/ws/echo`, {
          'x-portal-client-ip': '6.6.6.6',
          'x-portal-bridge': 'guessed-secret',
        });
        c.ws.send('whoami');
        const who = (await c.nextJson()) as { auth: Auth; ip: string };
        expect(who.ip).toBe('127.0.0.1');
        expect(who.auth.headers['x-portal-bridge']).toBeUndefined();
        c.ws.close();
        const t = await connect(`ws://127.0.0.1:${trusting.directPort}/ws/echo`, {
          'x-forwarded-for': '203.0.113.7',
        });
        t.ws.send('whoami');
        expect(((await t.nextJson()) as { ip: string }).ip).toBe('203.0.113.7');
        t.ws.close();
      });
    }

    it('closeAll closes every client with 1001, counts zero and refuses new upgrades', async () => {
      const own = await startStack(kind);
      const cs = await Promise.all([1, 2, 3].map(() => connect(`${own.base}/ws/echo`)));
      await waitFor(() => own.transport.connectionCount() === 3, 'three sockets');
      await own.transport.closeAll(CloseCode.GOING_AWAY, 'Server shutting down');
      expect(own.transport.connectionCount()).toBe(0);
      for (const c of cs) expect(await c.closed).toEqual({ code: 1001, reason: 'Server shutting down' });
      expect(own.hub.closes.map((c) => c.code)).toEqual([1001, 1001, 1001]);
      const seen = await refusal(`${own.base}/ws/echo`);
      expect(seen.status).toBe(503);
      expect(seen.body).toMatchObject({ status: 503 });
      await own.close();
    });
  });
}

transportContract('uws');
transportContract('ws');

describe('createTransport', () => {
  it("'auto' picks a uWebSockets.js build when one loads here and says which and why", () => {
    const log = recordingLog();
    const transport = createTransport('auto', {
      host: '127.0.0.1',
      port: 0,
      maxPayloadBytes: MAX_PAYLOAD,
      maxBackpressureBytes: MAX_BACKPRESSURE,
      messagesPerSecond: 10,
      idleTimeoutSeconds: 60,
      maxSocketsPerKey: 2,
      trustProxy: undefined,
      log,
    });
    expect(transport.kind).toBe('uws');
    const chosen = log.entries.find((e) => e.level === 'info' && e.msg?.startsWith('realtime transport:'));
    expect(chosen?.obj).toMatchObject({ transport: 'uws', module: '@trufflesuite/uws-js-unofficial' });
    expect(String((chosen?.obj as { reason?: string } | undefined)?.reason)).toContain(
      'official uWebSockets.js module is not installed',
    );
  });
});
