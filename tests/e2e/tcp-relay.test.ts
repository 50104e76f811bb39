import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEFAULT_BACKPRESSURE } from '../../src/realtime/relay/common';
import {
  INITIAL_WINDOW,
  MAX_STREAMS,
  MuxOp,
  MuxRelay,
  muxFrame,
  windowFrame,
} from '../../src/realtime/relay/mux';
import { api, makeUser, signIn } from '../helpers/identity';
import { openRelay, type RelayClient, relayRefusal, waitUntil } from '../helpers/relay-client';
import { startTestServer, type TestServer } from '../helpers/server';

// The raw TCP relay and the multiplexed `secure_tunnel` on /ws/user-connection/{id} (API.md §9)
// against real TCP peers started here: an echo server and a source that writes a fixed amount.

const SOURCE_BYTES = 600 * 1024;

let server: TestServer;
let echo: net.Server;
let echoPort: number;
let source: net.Server;
let sourcePort: number;
const echoSockets = new Set<net.Socket>();
const echoClosed: net.Socket[] = [];
const sockets = new Set<WebSocket>();

function listen(srv: net.Server): Promise<number> {
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)),
  );
}

beforeAll(async () => {
  server = await startTestServer({ env: { RATE_LIMIT_LOGIN: '100000', RATE_LIMIT_AUTH: '100000' } });
  echo = net.createServer((s) => {
    echoSockets.add(s);
    s.on('error', () => {});
    s.on('close', () => {
      echoSockets.delete(s);
      echoClosed.push(s);
    });
    s.on('data', (chunk) => {
      // "quit" makes the server end the connection.
      if (chunk.toString() === 'quit') s.end();
      else s.write(chunk);
    });
  });
  echoPort = await listen(echo);
  source = net.createServer((s) => {
    s.on('error', () => {});
    s.end(Buffer.alloc(SOURCE_BYTES, 7));
  });
  sourcePort = await listen(source);
});
afterAll(async () => {
  for (const s of echoSockets) s.destroy();
  await new Promise((r) => echo?.close(r));
  await new Promise((r) => source?.close(r));
  await server?.close();
});
afterEach(() => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
});

async function newUser() {
  const { username, password } = await makeUser(server);
  return signIn(server, username, password);
}

async function createConnection(token: string, port: number, type = 'tcp_tunnel') {
  const res = await api(server, 'POST', '/api/connections', {
    token,
    body: { name: 'tunnel', type, host: '127.0.0.1', port },
  });
  expect(res.status).toBe(200);
  return res.body.id as string;
}

const relayUrl = (id: string, token: string, mux = false) =>
  `${server.url.replace('http', 'ws')}/ws/user-connection/${id}?token=${token}${mux ? '&mux=1' : ''}`;

/** A port nothing listens on. */
async function freePort() {
  const probe = net.createServer();
  const port = await listen(probe);
  await new Promise((r) => probe.close(r));
  return port;
}

type Conn = RelayClient;
const connect = (url: string) => openRelay(url, { track: sockets });
const refusal = relayRefusal;

/** A client of the mux framing that keeps its own credit like a well-behaved peer. */
class MuxClient {
  readonly data = new Map<number, Buffer[]>();
  readonly opened = new Set<number>();
  readonly closes = new Map<number, { reason: number; text: string }>();
  readonly credit = new Map<number, number>();
  private constructor(readonly conn: Conn) {
    conn.ws.on('message', (raw: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      const op = raw.readUInt8(0);
      const id = raw.readUInt32BE(1);
      const payload = raw.subarray(5);
      if (op === MuxOp.OPEN) this.opened.add(id);
      else if (op === MuxOp.DATA) this.data.get(id)?.push(Buffer.from(payload));
      else if (op === MuxOp.CLOSE)
        this.closes.set(id, { reason: payload.readUInt8(0), text: payload.subarray(1).toString() });
      else if (op === MuxOp.WINDOW) this.credit.set(id, (this.credit.get(id) ?? 0) + payload.readUInt32BE(0));
    });
  }
  static async connect(url: string) {
    return new MuxClient(await connect(url));
  }
  open(id: number) {
    this.data.set(id, []);
    this.credit.set(id, INITIAL_WINDOW);
    this.conn.ws.send(muxFrame(MuxOp.OPEN, id));
  }
  received(id: number) {
    return Buffer.concat(this.data.get(id) ?? []);
  }
  /** Sends within the credit the server granted, waiting for WINDOW frames as needed. */
  async write(id: number, bytes: Buffer) {
    let offset = 0;
    while (offset < bytes.length) {
      await waitUntil(() => (this.credit.get(id) ?? 0) > 0, `credit on stream ${id}`);
      const n = Math.min(16 * 1024, bytes.length - offset, this.credit.get(id) ?? 0);
      this.credit.set(id, (this.credit.get(id) ?? 0) - n);
      this.conn.ws.send(muxFrame(MuxOp.DATA, id, bytes.subarray(offset, offset + n)));
      offset += n;
    }
  }
  /** Reads everything sent back by the echo server, granting credit as it is consumed. */
  async echoed(id: number, length: number) {
    let granted = 0;
    await waitUntil(
      () => {
        const got = this.received(id).length;
        if (got - granted >= 64 * 1024) {
          this.conn.ws.send(windowFrame(id, got - granted));
          granted = got;
        }
        return got >= length;
      },
      `${length} bytes on stream ${id}`,
      15_000,
    );
    if (this.received(id).length - granted > 0)
      this.conn.ws.send(windowFrame(id, this.received(id).length - granted));
    return this.received(id);
  }
  close(id: number) {
    this.conn.ws.send(muxFrame(MuxOp.CLOSE, id));
  }
}

describe('raw tcp relay', () => {
  it('round-trips 1 MB of binary data through the relay unchanged', async () => {
    const token = await newUser();
    const id = await createConnection(token, echoPort);
    const conn = await connect(relayUrl(id, token));
    const input = randomBytes(1024 * 1024);
    for (let offset = 0; offset < input.length; offset += 32 * 1024)
      conn.ws.send(input.subarray(offset, offset + 32 * 1024));
    await waitUntil(() => conn.received() >= input.length, 'the echo', 15_000);
    expect(Buffer.concat(conn.binary).equals(input)).toBe(true);
    expect(conn.messages).toEqual([]);
    expect(conn.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('carries a transfer of many more frames than the WebSocket default allows a second', async () => {
    // 6,000 frames at once: past WS_MESSAGES_PER_SECOND and the old relay budget of 1,000 (burst
    // 2,000), which closed bulk tunnels with 4429 mid-transfer.
    const token = await newUser();
    const id = await createConnection(token, echoPort);
    const conn = await connect(relayUrl(id, token));
    const input = randomBytes(6000 * 512);
    for (let offset = 0; offset < input.length; offset += 512)
      conn.ws.send(input.subarray(offset, offset + 512));
    await waitUntil(() => conn.received() >= input.length, 'the echo', 15_000);
    expect(Buffer.concat(conn.binary).equals(input)).toBe(true);
    expect(conn.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('relays vnc-plugin types (rdp) as raw TCP too', async () => {
    const token = await newUser();
    const id = await createConnection(token, echoPort, 'rdp');
    const conn = await connect(relayUrl(id, token));
    conn.ws.send(Buffer.from('RFB 003.008\n'));
    await waitUntil(() => conn.received() >= 12, 'the echo');
    expect(Buffer.concat(conn.binary).toString()).toBe('RFB 003.008\n');
  });

  it('closes the WebSocket with 1000 when the TCP server ends the connection', async () => {
    const token = await newUser();
    const id = await createConnection(token, echoPort);
    const conn = await connect(relayUrl(id, token));
    conn.ws.send(Buffer.from('quit'));
    expect((await conn.closed).code).toBe(1000);
  });

  it('destroys the TCP socket when the WebSocket closes', async () => {
    const token = await newUser();
    const id = await createConnection(token, echoPort);
    const conn = await connect(relayUrl(id, token));
    conn.ws.send(Buffer.from('hello'));
    await waitUntil(() => conn.received() >= 5, 'the echo');
    const peer = [...echoSockets].at(-1) as net.Socket;
    expect(peer).toBeDefined();
    conn.ws.close();
    await waitUntil(() => echoClosed.includes(peer), 'the TCP server to see close');
  });

  it('reports a refused connection as an error, then closes 4502', async () => {
    const closedPort = await freePort();
    const token = await newUser();
    const id = await createConnection(token, closedPort);
    const conn = await connect(relayUrl(id, token));
    const closed = await conn.closed;
    expect(closed.code).toBe(4502);
    expect(conn.messages).toHaveLength(1);
    const error = conn.messages[0] as { type: string; message: string };
    expect(error.type).toBe('error');
    expect(error.message).toBe(`Could not connect to 127.0.0.1:${closedPort}: ECONNREFUSED`);
    expect(closed.reason).toBe(error.message);
  });

  it('refuses text frames with 4400', async () => {
    const token = await newUser();
    const id = await createConnection(token, echoPort);
    const conn = await connect(relayUrl(id, token));
    conn.ws.send('hello');
    expect(await conn.closed).toEqual({ code: 4400, reason: 'Binary frames only' });
  });

  it("refuses another user's connection (404), http types (400) and mux on non-tunnel types (400)", async () => {
    const owner = await newUser();
    const other = await newUser();
    const id = await createConnection(owner, echoPort);
    const notYours = await refusal(relayUrl(id, other));
    expect(notYours.status).toBe(404);
    expect(notYours.body.error).toBe('Connection not found');
    expect((await refusal(relayUrl(id, other, true))).status).toBe(404);
    const http = await createConnection(owner, echoPort, 'http');
    const refused = await refusal(relayUrl(http, owner));
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe(
      `Web connections open in the embedded browser: /browser?connection=${http}`,
    );
    const vnc = await createConnection(owner, echoPort, 'vnc');
    const noMux = await refusal(relayUrl(vnc, owner, true));
    expect(noMux.status).toBe(400);
    expect(noMux.body.error).toBe('Multiplexing is only available for tunnel connections');
  });
});

describe('multiplexed tunnel (?mux=1)', () => {
  it('carries 3 concurrent streams over one socket, each echoing its own data', async () => {
    const token = await newUser();
    const id = await createConnection(token, echoPort);
    const mux = await MuxClient.connect(relayUrl(id, token, true));
    const inputs = new Map([1, 2, 7].map((sid) => [sid, randomBytes(300 * 1024 + sid)]));
    for (const sid of inputs.keys()) mux.open(sid);
    await waitUntil(() => mux.opened.size === 3, 'three OPEN acks');
    await Promise.all([...inputs].map(([sid, bytes]) => mux.write(sid, bytes)));
    const echoed = await Promise.all([...inputs].map(([sid, bytes]) => mux.echoed(sid, bytes.length)));
    [...inputs.values()].forEach((bytes, i) => {
      expect(echoed[i]?.equals(bytes)).toBe(true);
    });
    expect(mux.closes.size).toBe(0);
  });

  it('closing one stream leaves the others working; a backend end closes only its stream', async () => {
    const token = await newUser();
    const id = await createConnection(token, echoPort);
    const mux = await MuxClient.connect(relayUrl(id, token, true));
    for (const sid of [1, 2, 3]) mux.open(sid);
    await waitUntil(() => mux.opened.size === 3, 'three OPEN acks');
    const before = echoClosed.length;
    mux.close(1);
    await waitUntil(() => echoClosed.length > before, 'the first TCP socket to close');
    await mux.write(2, Buffer.from('two'));
    await mux.write(3, Buffer.from('three'));
    expect((await mux.echoed(2, 3)).toString()).toBe('two');
    expect((await mux.echoed(3, 5)).toString()).toBe('three');
    await mux.write(2, Buffer.from('quit'));
    await waitUntil(() => mux.closes.has(2), 'CLOSE of stream 2');
    expect(mux.closes.get(2)?.reason).toBe(0);
    await mux.write(3, Buffer.from('!'));
    expect((await mux.echoed(3, 6)).toString()).toBe('three!');
    expect(mux.closes.has(3)).toBe(false);
    expect(mux.conn.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('reports a failed connect as CLOSE reason 1 on that stream only', async () => {
    const token = await newUser();
    const port = await freePort();
    const id = await createConnection(token, port);
    const mux = await MuxClient.connect(relayUrl(id, token, true));
    mux.open(5);
    await waitUntil(() => mux.closes.has(5), 'CLOSE of stream 5');
    expect(mux.closes.get(5)).toEqual({
      reason: 1,
      text: `Could not connect to 127.0.0.1:${port}: ECONNREFUSED`,
    });
    expect(mux.conn.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('never sends more than the granted credit and continues after a WINDOW grant', async () => {
    const token = await newUser();
    const id = await createConnection(token, sourcePort);
    const mux = await MuxClient.connect(relayUrl(id, token, true));
    mux.open(9);
    await waitUntil(() => mux.received(9).length >= INITIAL_WINDOW, 'the initial window');
    await new Promise((r) => setTimeout(r, 400));
    expect(mux.received(9).length).toBe(INITIAL_WINDOW);
    mux.conn.ws.send(windowFrame(9, 100_000));
    await waitUntil(() => mux.received(9).length >= INITIAL_WINDOW + 100_000, 'the granted bytes');
    await new Promise((r) => setTimeout(r, 300));
    expect(mux.received(9).length).toBe(INITIAL_WINDOW + 100_000);
    expect(mux.closes.has(9)).toBe(false);
    mux.conn.ws.send(windowFrame(9, SOURCE_BYTES));
    await waitUntil(() => mux.closes.has(9), 'the end of the stream');
    expect(mux.received(9).length).toBe(SOURCE_BYTES);
    expect(mux.received(9).every((b) => b === 7)).toBe(true);
    expect(mux.closes.get(9)?.reason).toBe(0);
  });

  it('refuses text frames with 4400', async () => {
    const token = await newUser();
    const id = await createConnection(token, echoPort);
    const mux = await MuxClient.connect(relayUrl(id, token, true));
    mux.conn.ws.send('text');
    expect(await mux.conn.closed).toEqual({ code: 4400, reason: 'Binary frames only' });
  });
});

/** An in-process stand-in for the transport's socket, so frames arrive in one synchronous batch. */
function fakeSocket() {
  const frames: Buffer[] = [];
  const socket = {
    id: 'fake',
    route: '/ws/user-connection/:id',
    auth: null,
    ip: '127.0.0.1',
    params: {},
    query: new URLSearchParams(),
    bufferedAmount: 0,
    closed: false,
    closeInfo: null as { code: number; reason: string } | null,
    state: {},
    send(data: string | Uint8Array) {
      frames.push(Buffer.from(data));
      return true;
    },
    sendJson(m: unknown) {
      return socket.send(JSON.stringify(m));
    },
    close(code = 1000, reason = '') {
      socket.closed = true;
      socket.closeInfo = { code, reason };
    },
    subscribe() {},
    unsubscribe() {},
    // Like the ws transport: no drain event, the relay polls.
    onDrain: () => () => {},
  };
  return { socket, frames };
}

describe('relay internals', () => {
  const target = () => ({ connectionId: 'c', type: 'tcp_tunnel', host: '127.0.0.1', port: echoPort });

  it('closes only the stream whose client exceeds its credit', async () => {
    const { socket, frames } = fakeSocket();
    const relay = new MuxRelay(socket, target(), { backpressure: DEFAULT_BACKPRESSURE });
    relay.start();
    relay.handle(muxFrame(MuxOp.OPEN, 1), true);
    relay.handle(muxFrame(MuxOp.OPEN, 2), true);
    await waitUntil(() => frames.filter((f) => f[0] === MuxOp.OPEN).length === 2, 'OPEN acks');
    const chunk = Buffer.alloc(32 * 1024);
    for (let i = 0; i < INITIAL_WINDOW / chunk.length; i++)
      relay.handle(muxFrame(MuxOp.DATA, 1, chunk), true);
    relay.handle(muxFrame(MuxOp.DATA, 1, Buffer.from('x')), true);
    const close = frames.find((f) => f[0] === MuxOp.CLOSE);
    expect(close?.readUInt32BE(1)).toBe(1);
    expect(close?.readUInt8(5)).toBe(3);
    expect(close?.subarray(6).toString()).toBe('Flow control window exceeded');
    expect(relay.openStreams).toBe(1);
    relay.handle(muxFrame(MuxOp.DATA, 2, Buffer.from('ok')), true);
    await waitUntil(() => frames.some((f) => f[0] === MuxOp.DATA && f.readUInt32BE(1) === 2), 'the echo');
    expect(socket.closed).toBe(false);
    relay.close();
  });

  it('refuses streams past MAX_STREAMS with reason 4', async () => {
    const { socket, frames } = fakeSocket();
    const relay = new MuxRelay(socket, target(), { backpressure: DEFAULT_BACKPRESSURE });
    relay.start();
    for (let sid = 1; sid <= MAX_STREAMS + 1; sid++) relay.handle(muxFrame(MuxOp.OPEN, sid), true);
    const close = frames.find((f) => f[0] === MuxOp.CLOSE);
    expect(close?.readUInt32BE(1)).toBe(MAX_STREAMS + 1);
    expect(close?.readUInt8(5)).toBe(4);
    expect(relay.openStreams).toBe(MAX_STREAMS);
    relay.close();
  });
  // Idle timeouts of every relay kind are tested on a real server in service-relay.test.ts.
});
