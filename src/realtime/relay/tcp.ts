import net from 'node:net';
import { and, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { userConnections } from '../../db/schema';
import { CONNECTION_TYPES, isConnectionType } from '../../services/connections/types';
import type { RealtimeSocket, SocketData } from '../types';
import type { Backpressure } from './ssh';

// The raw TCP relay of API.md §9 on `/ws/user-connection/{id}` for connection types whose plugin is
// `vnc` (vnc, rdp → an RDP-to-VNC bridge), `spice` or `tunnel` (database, redis, tcp_tunnel): one TCP
// socket to the connection's host:port, binary WebSocket frames ⇄ TCP bytes, nothing added (what
// noVNC's websockify-style transport expects).
//
// Protocol decisions:
// - Client → server: binary frames only, each written to TCP as is. A text frame is refused by
//   closing the socket 4400 "Binary frames only" (a raw byte pipe has no room for a JSON reply the
//   client could tell apart from data, and a text frame means the client speaks the wrong protocol).
// - Server → client: binary frames with the backend's bytes. The only text frame ever sent is
//   `{"type":"error","message":...}`, right before the socket closes because of a failure.
// - Close codes: 1000 when the backend ended the connection; 4502 (with an `error` message first,
//   also used as the close reason) when the backend cannot be reached or fails; 4400 text frame;
//   4008 when the backend does not take bytes fast enough and more than MAX_INBOUND_BUFFER would
//   have to wait; 4408 after IDLE_TIMEOUT_MS without a byte either way. Closing the WebSocket
//   destroys the TCP socket.
// - Backpressure, backend → client: the TCP socket is paused once the WebSocket's bufferedAmount
//   passes the high-water mark and resumed (polling) below the low-water mark, so TCP's own window
//   pushes back on the backend. Client → backend: once `write()` returns false the frames wait in a
//   bounded queue until 'drain' (the transport cannot stop reading one WebSocket), and the client
//   is closed 4008 past MAX_INBOUND_BUFFER instead of growing memory.

/** No byte in either direction for this long closes both sides. */
export const IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** Client bytes waiting for the backend (before connect or while TCP is not draining). */
export const MAX_INBOUND_BUFFER = 4 * 1024 * 1024;
export const CONNECT_TIMEOUT_MS = 10_000;

/** Close codes of a raw or multiplexed relay socket (4000 + the HTTP status of the same condition). */
export const TcpRelayClose = {
  ENDED: 1000,
  SLOW_CONSUMER: 4008,
  BAD_FRAME: 4400,
  IDLE: 4408,
  BAD_GATEWAY: 4502,
} as const;

/** Plugins served by the raw relay; `tunnel` types can also be multiplexed (`?mux=1`, see mux.ts). */
const RAW_PLUGINS = new Set(['vnc', 'rdp', 'spice', 'tunnel', 'tcp_tunnel']);
const MUX_PLUGINS = new Set(['tunnel', 'tcp_tunnel']);

export type TcpTarget = { connectionId: string; type: string; host: string; port: number };

export const pluginOf = (type: string): string | null =>
  isConnectionType(type) ? CONNECTION_TYPES[type].plugin : null;
export const isRawRelayType = (type: string) => RAW_PLUGINS.has(pluginOf(type) ?? '');
export const isMuxRelayType = (type: string) => MUX_PLUGINS.has(pluginOf(type) ?? '');

/** The caller's own connection (anyone else's, or a missing one, is 404). */
export async function loadOwnedConnection(db: Db, userId: number, id: string): Promise<TcpTarget> {
  const [row] = await db
    .select({
      id: userConnections.id,
      type: userConnections.type,
      host: userConnections.host,
      port: userConnections.port,
    })
    .from(userConnections)
    .where(and(eq(userConnections.id, id), eq(userConnections.userId, userId)));
  if (!row) throw new AppError('NOT_FOUND', 'Connection not found');
  return { connectionId: row.id, type: row.type, host: row.host, port: row.port };
}

export const connectFailure = (target: TcpTarget, err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  return `Could not connect to ${target.host}:${target.port}: ${e?.code ?? e?.message ?? 'error'}`;
};

export type TcpRelayOptions = {
  backpressure: Backpressure;
  idleTimeoutMs?: number;
  maxInboundBytes?: number;
  connectTimeoutMs?: number;
};

export class TcpRelay {
  private tcp: net.Socket | null = null;
  private connected = false;
  private ended = false;
  /** Client bytes not yet handed to the TCP socket. */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  /** True while TCP's write buffer is full (until 'drain'). */
  private writeBlocked = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastActivity = Date.now();

  constructor(
    private readonly socket: RealtimeSocket<unknown>,
    private readonly target: TcpTarget,
    private readonly opts: TcpRelayOptions,
  ) {}

  start() {
    const idleMs = this.opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.idleTimer = setInterval(
      () => {
        if (Date.now() - this.lastActivity >= idleMs) this.fail('Idle timeout', TcpRelayClose.IDLE, false);
      },
      Math.max(50, Math.min(30_000, Math.floor(idleMs / 4))),
    );
    const tcp = net.connect({ host: this.target.host, port: this.target.port });
    this.tcp = tcp;
    tcp.setNoDelay(true);
    tcp.setTimeout(this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, () => {
      if (!this.connected) tcp.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    });
    tcp.once('connect', () => {
      tcp.setTimeout(0);
      this.connected = true;
      this.flush();
    });
    tcp.on('data', (chunk: Buffer) => this.fromBackend(chunk));
    tcp.on('drain', () => {
      this.writeBlocked = false;
      this.flush();
    });
    tcp.once('end', () => this.finish('Connection closed by the backend'));
    tcp.once('error', (err) =>
      this.fail(
        this.connected
          ? `Backend error: ${(err as NodeJS.ErrnoException).code ?? err.message}`
          : connectFailure(this.target, err),
        TcpRelayClose.BAD_GATEWAY,
        true,
      ),
    );
    tcp.once('close', () => this.finish('Connection closed by the backend'));
  }

  handle(data: SocketData, isBinary: boolean) {
    if (this.ended) return;
    if (!isBinary || typeof data === 'string')
      return this.fail('Binary frames only', TcpRelayClose.BAD_FRAME, false);
    if (data.length === 0) return;
    this.lastActivity = Date.now();
    if (this.queuedBytes + data.length > (this.opts.maxInboundBytes ?? MAX_INBOUND_BUFFER))
      return this.fail('Backend is not reading fast enough', TcpRelayClose.SLOW_CONSUMER, false);
    // The transport may reuse its buffer after the callback returns.
    this.queue.push(Buffer.from(data));
    this.queuedBytes += data.length;
    this.flush();
  }

  /** The socket went away: destroy the TCP side. */
  close() {
    if (this.ended) return;
    this.ended = true;
    this.teardown();
  }

  private flush() {
    const tcp = this.tcp;
    if (!tcp || !this.connected || this.ended) return;
    while (this.queue.length > 0 && !this.writeBlocked) {
      const chunk = this.queue.shift() as Buffer;
      this.queuedBytes -= chunk.length;
      if (!tcp.write(chunk)) this.writeBlocked = true;
    }
  }

  private fromBackend(chunk: Buffer) {
    if (this.ended || this.socket.closed) return;
    this.lastActivity = Date.now();
    this.socket.send(chunk, true);
    if (!this.pollTimer && this.socket.bufferedAmount > this.opts.backpressure.highWaterBytes) this.pause();
  }

  /** Stops reading the backend until the client has taken most of what waits for it. */
  private pause() {
    const tcp = this.tcp;
    if (!tcp) return;
    tcp.pause();
    this.pollTimer = setInterval(() => {
      if (this.socket.closed) return this.close();
      if (this.socket.bufferedAmount > this.opts.backpressure.lowWaterBytes) return;
      if (this.pollTimer) clearInterval(this.pollTimer);
      this.pollTimer = null;
      if (!this.ended) tcp.resume();
    }, this.opts.backpressure.pollMs);
  }

  private fail(message: string, code: number, report: boolean) {
    if (this.ended) return;
    this.ended = true;
    if (!this.socket.closed) {
      if (report) this.socket.sendJson({ type: 'error', message });
      this.socket.close(code, message.slice(0, 120));
    }
    this.teardown();
  }

  private finish(reason: string) {
    if (this.ended) return;
    this.ended = true;
    if (!this.socket.closed) this.socket.close(TcpRelayClose.ENDED, reason);
    this.teardown();
  }

  private teardown() {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.pollTimer = null;
    this.idleTimer = null;
    this.queue = [];
    this.queuedBytes = 0;
    this.tcp?.destroy();
    this.tcp = null;
  }
}
