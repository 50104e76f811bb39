import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ClientIpResolver } from '../core/client-ip';
import { AppError } from '../core/errors';
import { buildRefusal, splitUrl, type TransportLog, writeRawRefusal } from './socket-common';
import type { UpgradeClaim } from './types';

// uWebSockets.js cannot share node's HTTP port, yet API.md §11 promises every path on PORT. This
// bridge hands WebSocket upgrades that reach the node server to uWS over loopback, byte for byte.
// The client address travels in a header that uWS trusts only with this process's secret.

export const BRIDGE_SECRET_HEADER = 'x-portal-bridge';
export const BRIDGE_CLIENT_IP_HEADER = 'x-portal-client-ip';

export type BridgeOptions = {
  /** The uWS direct port on loopback, or null while it is not listening. */
  target(): { host: string; port: number } | null;
  secret: string;
  resolveIp: ClientIpResolver;
  log: TransportLog;
  /** Only these paths are bridged; other upgrades get 404. */
  prefix?: string;
};

/** Grace for a half-closed side to flush its last bytes (close frame, error body) before it is cut. */
const FLUSH_GRACE_MS = 5000;

function requestHead(req: IncomingMessage, secret: string, ip: string): string {
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const lower = name.toLowerCase();
    // Client-sent copies would let anyone pick their own address.
    if (lower === BRIDGE_SECRET_HEADER || lower === BRIDGE_CLIENT_IP_HEADER) continue;
    lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
  }
  lines.push(`${BRIDGE_SECRET_HEADER}: ${secret}`, `${BRIDGE_CLIENT_IP_HEADER}: ${ip}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Ends `side` after the other closed, and cuts it if its peer never reads the rest. */
function finish(side: Socket | Duplex) {
  if (side.destroyed) return;
  // Unpiped once its partner closed, it would sit paused and never read the peer's FIN.
  side.resume();
  if (!side.writableEnded) side.end();
  setTimeout(() => side.destroy(), FLUSH_GRACE_MS).unref();
}

export function bridgeUpgrade(opts: BridgeOptions, req: IncomingMessage, client: Duplex, head: Buffer): void {
  const { log } = opts;
  const { path } = splitUrl(req.url ?? '/');
  const forwarded = req.headers['x-forwarded-for'];
  const ip = opts.resolveIp(
    req.socket.remoteAddress ?? '',
    Array.isArray(forwarded) ? forwarded.join(', ') : forwarded,
  );
  client.on('error', () => client.destroy());
  if (!path.startsWith(opts.prefix ?? '/ws/')) {
    writeRawRefusal(client, buildRefusal(new AppError('NOT_FOUND'), log, { path, ip }));
    return;
  }
  const target = opts.target();
  if (!target) {
    writeRawRefusal(client, buildRefusal(new AppError('SERVICE_UNAVAILABLE'), log, { path, ip }));
    return;
  }
  const upstream = connect({ host: target.host, port: target.port });
  let connected = false;
  upstream.setNoDelay(true);
  upstream.once('connect', () => {
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    connected = true;
    upstream.write(requestHead(req, opts.secret, ip));
    if (head.length > 0) upstream.write(head);
    // pipe() carries backpressure both ways, so a client that stops reading stalls uWS's writes
    // and uWS's own slow-consumer limit applies.
    client.pipe(upstream);
    upstream.pipe(client);
  });
  upstream.on('error', (err) => {
    if (connected) {
      client.destroy();
      return;
    }
    log.warn({ err: err.message, target }, 'websocket bridge cannot reach uWebSockets.js');
    writeRawRefusal(client, buildRefusal(new AppError('SERVICE_UNAVAILABLE'), log, { path, ip }));
  });
  upstream.once('close', () => {
    if (connected) finish(client);
  });
  client.once('close', () => finish(upstream));
}

/** Routes the node server's upgrades through the bridge; returns a function that detaches it. */
export function attachUpgradeBridge(
  server: HttpServer,
  opts: BridgeOptions,
  claim?: UpgradeClaim,
): () => void {
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      if (claim?.(req, socket, head)) return;
      bridgeUpgrade(opts, req, socket, head);
    } catch (err) {
      opts.log.error({ err }, 'websocket bridge failed');
      socket.destroy();
    }
  };
  server.on('upgrade', onUpgrade);
  return () => server.off('upgrade', onUpgrade);
}
