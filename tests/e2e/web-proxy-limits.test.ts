import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server';
import { BIG_BYTES, startWebBackend, type WebBackend } from '../helpers/web-backend';
import {
  createConnection,
  openBrowserPage,
  type ProxyUser,
  proxiedSocket,
  proxyUser,
  viaProxy,
} from '../helpers/web-proxy';

// The web proxy's own limits on a server where they are small: requests per user per minute,
// the largest response, proxied WebSockets per user, and shutdown; on the `ws` transport.

let server: TestServer;
let backend: WebBackend;
let user: ProxyUser;
let proxy: string;

beforeAll(async () => {
  backend = await startWebBackend();
  server = await startTestServer({
    env: {
      RATE_LIMIT_LOGIN: '1000',
      RATE_LIMIT_AUTH: '1000',
      PROXY_RATE_LIMIT: '8',
      PROXY_MAX_RESPONSE_BYTES: String(1024 * 1024),
      WS_MAX_SOCKETS_PER_USER: '1',
      // The other proxy suites run on uWebSockets.js; /proxy upgrades must work on the fallback too.
      WS_TRANSPORT: 'ws',
    },
  });
  user = await proxyUser(server);
  const id = await createConnection(server, user, { type: 'http', host: '127.0.0.1', port: backend.port });
  proxy = (await openBrowserPage(server, user, id)).proxy!;
});
afterAll(async () => {
  await server?.close();
  await backend?.close();
});

describe('web proxy limits', () => {
  it('cuts a response past PROXY_MAX_RESPONSE_BYTES', async () => {
    const res = await viaProxy(server, `${proxy}/big`);
    expect(res.status).toBe(200);
    let received = 0;
    await expect(
      (async () => {
        for await (const chunk of res.body!) received += (chunk as Uint8Array).length;
      })(),
    ).rejects.toThrow();
    expect(received).toBeLessThan(BIG_BYTES);
    expect(received).toBeLessThanOrEqual(1024 * 1024);
  });

  it('allows one proxied WebSocket per user here, and refuses the next with 429', async () => {
    const first = proxiedSocket(server, `${proxy}/ws/one`);
    await first.opened;
    await expect(proxiedSocket(server, `${proxy}/ws/two`).opened).rejects.toThrow('status 429');
    const closed = new Promise((resolve) => first.ws.once('close', resolve));
    first.ws.close();
    await closed;
  });

  it('counts PROXY_RATE_LIMIT requests per user per minute, then answers 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    // Fixed one-minute windows: a boundary inside the loop only delays the refusal.
    for (let i = 0; i < 20; i++) {
      last = await viaProxy(server, `${proxy}/whoami`);
      statuses.push(last.status);
      if (last.status === 429) break;
    }
    expect(statuses).toContain(429);
    expect(last!.headers.get('x-ratelimit-limit')).toBe('8');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await last!.json()) as { error: string }).error).toBe('Too many requests');
  });

  it('ends proxied WebSockets when the server shuts down, and the drain completes', async () => {
    const socket = proxiedSocket(server, `${proxy}/ws/last`);
    await socket.opened;
    const closed = new Promise((resolve) => socket.ws.once('close', resolve));
    await server.stop();
    await closed;
  });
});
