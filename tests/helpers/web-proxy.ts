import WebSocket from 'ws';
import { api, makeUser } from './identity';
import type { TestServer } from './server';

// Shortcuts for the web proxy tests: a user signed in both ways (Bearer JWT and session cookie),
// web connections, the browser page's ticketed proxy prefix, and WebSockets through /proxy/.

export type ProxyUser = { userId: number; jwt: string; cookie: string };

export async function proxyUser(server: TestServer): Promise<ProxyUser> {
  const { username, password, user } = await makeUser(server);
  const res = await api(server, 'POST', '/api/token', { body: { username, password } });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status}`);
  const session = res.headers.get('set-cookie')?.match(/portal_session=([\w-]+)/)?.[1];
  if (!session) throw new Error('no session cookie');
  return { userId: user.id, jwt: String(res.body.token), cookie: `portal_session=${session}` };
}

export async function createConnection(
  server: TestServer,
  user: ProxyUser,
  body: { type: string; host: string; port?: number; config?: Record<string, unknown>; name?: string },
): Promise<string> {
  const res = await api(server, 'POST', '/api/connections', {
    token: user.jwt,
    body: { name: body.name ?? `${body.type} backend`, ...body },
  });
  if (res.status !== 200) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return String(res.body.id);
}

export async function defaultBrowserId(server: TestServer, user: ProxyUser): Promise<string> {
  const list = await api(server, 'GET', '/api/connections', { token: user.jwt });
  const conns = list.body.connections as Array<{ id: string; type: string; config: Record<string, unknown> }>;
  return conns.find((c) => c.type === 'http_proxy' && c.config.browser_mode === true)!.id;
}

/** Opens /browser with the session cookie and returns the page and its ticketed proxy prefix. */
export async function openBrowserPage(server: TestServer, user: ProxyUser, id: string, headers = {}) {
  const res = await fetch(`${server.url}/browser?connection=${encodeURIComponent(id)}`, {
    headers: { cookie: user.cookie, ...headers },
  });
  const html = await res.text();
  const proxy = /data-proxy="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
  return { res, html, proxy };
}

/** A fetch through the proxy that never follows redirects. */
export function viaProxy(server: TestServer, path: string, init: RequestInit = {}) {
  return fetch(`${server.url}${path}`, { redirect: 'manual', ...init });
}

export type ProxiedSocket = { ws: WebSocket; messages: string[]; opened: Promise<void> };

/** A WebSocket through /proxy/; `opened` rejects with the refused upgrade's status. */
export function proxiedSocket(
  server: TestServer,
  path: string,
  headers: Record<string, string> = {},
): ProxiedSocket {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}${path}`, { headers });
  const messages: string[] = [];
  ws.on('message', (data) => messages.push(String(data)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return { ws, messages, opened };
}
