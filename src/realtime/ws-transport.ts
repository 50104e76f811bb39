import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { createClientIpResolver } from '../core/client-ip';
import { CloseCode } from './protocol';
import {
  addHeader,
  type SocketDriver,
  splitUrl,
  type TransportSocket,
  writeRawRefusal,
} from './socket-common';
import { type Admission, createTransportCore } from './transport-core';
import type { RealtimeTransport, TransportOptions, UpgradeClaim } from './types';
import { BRIDGE_CLIENT_IP_HEADER, BRIDGE_SECRET_HEADER } from './upgrade-bridge';

// Fallback transport on the `ws` package: used where no uWebSockets.js build loads. It shares the
// public HTTP port directly (no bridge) and implements topics itself.

type AnySocket = TransportSocket<unknown>;

/** A server-initiated close that the peer does not complete within this time is cut. */
const CLOSE_GRACE_MS = 1000;

/** ws closes protocol violations itself but then never reads the peer's echo; hubs get the real code. */
const CLOSE_CODE_FOR_ERROR: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_INVALID_UTF8: 1007,
};

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    // Only the uWS transport has a bridge; here these are always forged.
    if (value === undefined || name === BRIDGE_SECRET_HEADER || name === BRIDGE_CLIENT_IP_HEADER) continue;
    for (const v of Array.isArray(value) ? value : [value]) addHeader(headers, name, v);
  }
  return headers;
}

const toBuffer = (data: RawData): Buffer => {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
};

export function createWsTransport(opts: TransportOptions): RealtimeTransport {
  const { log } = opts;
  const core = createTransportCore(opts);
  const resolveIp = createClientIpResolver(opts.trustProxy);
  const topics = new Map<string, Set<AnySocket>>();
  const alive = new WeakMap<WebSocket, boolean>();
  // ws takes the payload limit per server, so one server per distinct limit gives every route its own.
  const servers = new Map<number, WebSocketServer>();
  const live = new Set<WebSocket>();

  const serverFor = (maxPayload: number) => {
    let wss = servers.get(maxPayload);
    if (!wss) {
      wss = new WebSocketServer({
        noServer: true,
        maxPayload,
        perMessageDeflate: false,
        clientTracking: false,
      });
      servers.set(maxPayload, wss);
    }
    return wss;
  };

  // A peer that answers no ping for a whole interval is gone (cable pulled, NAT expired).
  const pingTimer = setInterval(
    () => {
      for (const ws of live) {
        if (alive.get(ws) === false) {
          ws.terminate();
          continue;
        }
        alive.set(ws, false);
        ws.ping();
      }
    },
    Math.max(1000, (opts.idleTimeoutSeconds * 1000) / 2),
  );
  pingTimer.unref();

  function addToTopic(topic: string, socket: AnySocket) {
    const set = topics.get(topic) ?? new Set<AnySocket>();
    topics.set(topic, set);
    set.add(socket);
  }

  function removeFromTopic(topic: string, socket: AnySocket) {
    const set = topics.get(topic);
    if (set?.delete(socket) && set.size === 0) topics.delete(topic);
  }

  function driverFor(ws: WebSocket): SocketDriver {
    return {
      send: (data, isBinary) => {
        ws.send(data, { binary: isBinary });
        return true;
      },
      bufferedAmount: () => ws.bufferedAmount,
      end: (code, reason) => {
        ws.close(code, reason);
        setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      },
      terminate: () => ws.terminate(),
      subscribe: addToTopic,
      unsubscribe: removeFromTopic,
    };
  }

  function start(ws: WebSocket, admission: Admission) {
    live.add(ws);
    alive.set(ws, true);
    const socket = core.open(admission, driverFor(ws));
    ws.on('pong', () => alive.set(ws, true));
    ws.on('message', (data, isBinary) => {
      alive.set(ws, true);
      const buf = toBuffer(data);
      core.message(socket, isBinary ? buf : buf.toString('utf8'), isBinary, buf.length);
    });
    let protocolClose: { code: number; reason: string } | null = null;
    // Protocol errors (oversize, bad frames) are the client's; ws already sends the close frame.
    ws.on('error', (err: Error & { code?: string }) => {
      protocolClose = { code: CLOSE_CODE_FOR_ERROR[err.code ?? ''] ?? 1002, reason: err.message };
      log.info({ err: err.message, socket_id: socket.id }, 'websocket protocol error');
    });
    ws.once('close', (code, reason) => {
      live.delete(ws);
      for (const topic of socket.topics) removeFromTopic(topic, socket);
      const final = protocolClose ?? { code, reason: reason.toString() };
      core.closed(socket, final.code, final.reason);
    });
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    let gone = false;
    socket.on('error', () => {});
    socket.once('close', () => {
      gone = true;
    });
    const { path, query } = splitUrl(req.url ?? '/');
    const headers = headersOf(req);
    const ip = resolveIp(req.socket.remoteAddress ?? '', headers['x-forwarded-for']);
    let admission: Admission;
    try {
      admission = await core.admit({ path, query, headers, ip });
    } catch (err) {
      writeRawRefusal(socket, core.refusal(err, { path, ip }));
      return;
    }
    if (gone) {
      admission.release();
      return;
    }
    let upgraded = false;
    // ws answers malformed handshakes itself without calling back: the slot must not leak then.
    socket.once('close', () => {
      if (!upgraded) admission.release();
    });
    serverFor(core.maxPayloadFor(admission.route)).handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      start(ws, admission);
    });
  }

  return {
    kind: 'ws',
    route(route) {
      core.route(route);
    },
    publish(topic, data, isBinary = typeof data !== 'string') {
      const set = topics.get(topic);
      if (!set) return;
      for (const socket of [...set]) socket.send(data, isBinary);
    },
    async listen() {
      log.info({ transport: 'ws' }, 'realtime transport ws: WebSockets are served on the public HTTP port');
      return null;
    },
    attach(server: HttpServer, claim?: UpgradeClaim) {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (claim?.(req, socket, head)) return;
        onUpgrade(req, socket, head).catch((err: unknown) => {
          log.error({ err }, 'websocket upgrade crashed');
          socket.destroy();
        });
      });
    },
    connectionCount: () => core.connectionCount(),
    async closeAll(code = CloseCode.GOING_AWAY, reason = 'Server shutting down') {
      await core.closeAll(code, reason);
      clearInterval(pingTimer);
      for (const wss of servers.values()) wss.close();
    },
  };
}
