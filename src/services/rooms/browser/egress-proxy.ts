import http from 'node:http';
import net from 'node:net';
import { pipeline } from 'node:stream';
import type { HostResolver } from './network-guard';
import type { RuntimeLog } from './runtime';

// Room browsers reach the network only through this in-process proxy, which connects to the exact
// address it checked. Why a proxy and not Playwright request interception (`context.route`):
// routing sees neither WebSockets nor service-worker traffic, and it lets Chromium resolve the
// name again after the check, so DNS rebinding walks straight past it. A proxy sees every
// connection the network stack makes (Chromium tunnels https, ws and wss with CONNECT).

export type EgressProxy = { url: string; close(): Promise<void> };

// Headers that describe one hop, not the request (RFC 9110 §7.6.1); Node frames the body itself.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const BLOCKED_PAGE =
  '<!doctype html><title>Blocked</title><p>This address is on a private network and cannot be opened from the shared browser.</p>';

/** Drops hop-by-hop headers (and those the Connection header names) from a raw header list. */
function endToEndHeaders(raw: string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === 'connection') {
      for (const token of (raw[i + 1] ?? '').split(',')) named.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(name) && !named.has(name)) out.push(raw[i]!, raw[i + 1] ?? '');
  }
  return out;
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:/]+)):(\d{1,5})$/;

export async function startEgressProxy(opts: {
  resolve: HostResolver;
  log: RuntimeLog;
}): Promise<EgressProxy> {
  const { resolve, log } = opts;
  const sockets = new Set<net.Socket>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  // A page can retry a refused address in a loop: one log line per host and minute is enough.
  const lastLogged = new Map<string, number>();
  const blocked = (host: string, reason: string) => {
    const now = Date.now();
    if (now - (lastLogged.get(host) ?? 0) < 60_000) return;
    if (lastLogged.size >= 1_000) lastLogged.clear();
    lastLogged.set(host, now);
    log.info({ host, reason }, 'room browser connection refused');
  };

  async function forward(req: http.IncomingMessage, res: http.ServerResponse) {
    const target = URL.canParse(req.url ?? '') ? new URL(req.url!) : undefined;
    if (target?.protocol !== 'http:') {
      res.writeHead(400).end();
      return;
    }
    const check = await resolve(target.hostname);
    if (!check.ok) {
      blocked(target.hostname, check.reason);
      res.writeHead(check.reason === 'private' ? 403 : 502, { 'content-type': 'text/html' });
      res.end(check.reason === 'private' ? BLOCKED_PAGE : undefined);
      return;
    }
    const headers = endToEndHeaders(req.rawHeaders);
    const upstream = http.request({
      host: check.address,
      family: check.family,
      port: target.port || 80,
      method: req.method,
      path: `${target.pathname}${target.search}`,
      headers,
      setHost: false,
      agent,
    });
    upstream.on('response', (up) => {
      res.writeHead(up.statusCode ?? 502, up.statusMessage, endToEndHeaders(up.rawHeaders));
      // pipeline() tears both sides down when either fails, so a cut download never hangs.
      pipeline(up, res, () => {});
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // Not pipeline(): a failed upstream must leave the client socket up for the 502.
    req.pipe(upstream);
  }

  async function tunnel(req: http.IncomingMessage, client: net.Socket, head: Buffer) {
    client.on('error', () => client.destroy());
    const match = HOST_PORT.exec(req.url ?? '');
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    if (!host || !(port >= 1 && port <= 65_535)) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const check = await resolve(host);
    if (client.destroyed) return;
    if (!check.ok) {
      blocked(host, check.reason);
      client.end(`HTTP/1.1 ${check.reason === 'private' ? '403 Forbidden' : '502 Bad Gateway'}\r\n\r\n`);
      return;
    }
    const upstream = net.connect({ host: check.address, port, family: check.family });
    track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => {
      if (connected) client.destroy();
      else client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  }

  const server = http.createServer((req, res) => {
    forward(req, res).catch(() => res.destroy());
  });
  server.on('connection', track);
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    tunnel(req, socket, head).catch(() => socket.destroy());
  });
  // Chromium sends WebSockets through CONNECT; a plain proxied upgrade is not something it does.
  server.on('upgrade', (_req, socket: net.Socket) => socket.destroy());
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as net.AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      }),
  };
}
