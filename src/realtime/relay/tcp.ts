import net from 'node:net';
import { and, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { userConnections } from '../../db/schema';
import { CONNECTION_TYPES, isConnectionType } from '../../services/connections/types';
import type { RealtimeSocket, SocketData } from '../types';
import { PipeRelay, RelayClose, type RelayLimits } from './common';

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
//   passes the high-water mark and resumed below the low-water mark (on the drain event), so
//   TCP's own window pushes back on the backend. Client → backend: once `write()` returns false
//   the frames wait in a bounded queue until 'drain' (the transport cannot stop reading one
//   WebSocket), and the client is closed 4008 past MAX_INBOUND_BUFFER instead of growing memory.

export const CONNECT_TIMEOUT_MS = 10_000;

/** Plugins served by the raw relay; `tunnel` types can also be multiplexed (`?mux=1`, see mux.ts). */
const RAW_PLUGINS = new Set(['vnc', 'rdp', 'spice', 'tunnel', 'tcp_tunnel']);
const MUX_PLUGINS = new Set(['tunnel', 'tcp_tunnel']);

export type TcpTarget = {
  connectionId: string;
  type: string;
  host: string;
  port: number;
  /** How error messages name the backend instead of host:port. */
  shownAs?: string;
};

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
  const name = target.shownAs ?? `${target.host}:${target.port}`;
  return `Could not connect to ${name}: ${e?.code ?? e?.message ?? 'error'}`;
};

export type TcpRelayOptions = RelayLimits & { connectTimeoutMs?: number };

export class TcpRelay extends PipeRelay<Buffer> {
  private tcp: net.Socket | null = null;
  private connected = false;

  constructor(
    socket: RealtimeSocket<unknown>,
    private readonly target: TcpTarget,
    private readonly opts: TcpRelayOptions,
  ) {
    super(socket, opts);
  }

  start() {
    this.startIdleTimer();
    const tcp = net.connect({ host: this.target.host, port: this.target.port });
    this.tcp = tcp;
    tcp.setNoDelay(true);
    tcp.setTimeout(this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, () => {
      if (!this.connected) tcp.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    });
    tcp.once('connect', () => {
      tcp.setTimeout(0);
      this.connected = true;
      this.inbound.attach((chunk) => tcp.write(chunk));
    });
    tcp.on('data', (chunk: Buffer) => this.fromBackend(chunk));
    tcp.on('drain', () => this.inbound.drained());
    tcp.once('end', () => this.finish('Connection closed by the backend'));
    tcp.once('error', (err) =>
      this.fail(
        this.connected
          ? `Backend error: ${(err as NodeJS.ErrnoException).code ?? err.message}`
          : connectFailure(this.target, err),
        RelayClose.BAD_GATEWAY,
        true,
      ),
    );
    tcp.once('close', () => this.finish('Connection closed by the backend'));
  }

  handle(data: SocketData, isBinary: boolean) {
    if (this.ended) return;
    if (!isBinary || typeof data === 'string')
      return this.fail('Binary frames only', RelayClose.BAD_FRAME, false);
    if (data.length === 0) return;
    this.touch();
    // The transport may reuse its buffer after the callback returns.
    this.forward(Buffer.from(data), 'Backend is not reading fast enough');
  }

  private fromBackend(chunk: Buffer) {
    if (this.ended || this.socket.closed) return;
    this.touch();
    this.socket.send(chunk, true);
    this.drain.check();
  }

  protected pauseBackend() {
    this.tcp?.pause();
  }

  protected resumeBackend() {
    this.tcp?.resume();
  }

  protected destroyBackend() {
    this.tcp?.destroy();
    this.tcp = null;
  }
}
