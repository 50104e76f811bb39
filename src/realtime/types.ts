import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

// Hubs (chat, portal, relays) only ever see these types, never uWS or ws objects
// (DESIGN.md rule 6), so the same hub runs on either transport.

/** An upgrade handler outside the realtime hubs: true when it took the socket. */
export type UpgradeClaim = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** Everything copied out of the HTTP upgrade request, synchronously, before any await. */
export type UpgradeRequest = {
  path: string;
  /** Values captured by `:name` segments of the route pattern. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Client address after TRUST_PROXY (and the public-port bridge) are applied. */
  ip: string;
};

export type SocketData = string | Buffer;

export interface RealtimeSocket<A = unknown> {
  readonly id: string;
  readonly route: string;
  readonly auth: A;
  readonly ip: string;
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  /** Bytes queued for this client and not yet written to the kernel. */
  readonly bufferedAmount: number;
  /**
   * Calls `listener` each time the transport has written queued bytes out (uWS's `drain`);
   * returns the function that removes it. Transports without such an event never call it, so
   * users keep a slow poll of `bufferedAmount` as well.
   */
  onDrain(listener: () => void): () => void;
  readonly closed: boolean;
  /** Returns false when the socket is closed or was dropped as a slow consumer. */
  send(data: string | Uint8Array, isBinary?: boolean): boolean;
  /** Sends an object as a JSON text frame. */
  sendJson(message: unknown): boolean;
  close(code?: number, reason?: string): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Free space for the hub (per-socket state); never read by the transport. */
  state: Record<string, unknown>;
}

export type WsRoute<A = unknown> = {
  /** Path pattern: literal segments and `:name` parameters, e.g. `/ws/:plugin/:serviceId`. */
  pattern: string;
  /**
   * Called once per upgrade. Throw an AppError to refuse: the client gets that HTTP status with
   * the contract's JSON error body. The result becomes `socket.auth`.
   */
  authenticate(req: UpgradeRequest): Promise<A> | A;
  /** When set, at most WS_MAX_SOCKETS_PER_USER sockets share a key on this route family (429 past it). */
  limitKey?(auth: A): string | null;
  onOpen?(socket: RealtimeSocket<A>): void;
  onMessage(socket: RealtimeSocket<A>, data: SocketData, isBinary: boolean): void;
  onClose?(socket: RealtimeSocket<A>, code: number, reason: string): void;
  /** Overrides WS_MESSAGES_PER_SECOND for this route (e.g. relays carrying raw TCP). */
  messagesPerSecond?: number;
  /** Overrides WS_MAX_PAYLOAD_BYTES for this route. */
  maxPayloadBytes?: number;
};

export type TransportOptions = {
  host: string;
  /** Direct port for a reverse proxy; 0 picks a free loopback port. */
  port: number;
  maxPayloadBytes: number;
  maxBackpressureBytes: number;
  messagesPerSecond: number;
  idleTimeoutSeconds: number;
  maxSocketsPerKey: number;
  trustProxy: string | undefined;
  log: {
    info(obj: object, msg?: string): void;
    warn(obj: object, msg?: string): void;
    error(obj: object, msg?: string): void;
  };
};

export interface RealtimeTransport {
  readonly kind: 'uws' | 'ws';
  route<A>(route: WsRoute<A>): void;
  /** Sends to every socket on this node subscribed to `topic` (cluster fan-out goes through the Bus). */
  publish(topic: string, data: string | Uint8Array, isBinary?: boolean): void;
  /** Starts listening (uWS: its direct port). Resolves with the port, or null when it has none (ws). */
  listen(): Promise<number | null>;
  /**
   * Makes WebSocket upgrades that arrive on the public HTTP server reach this transport; `claim`
   * sees each upgrade first and keeps the ones it returns true for (the web proxy's /proxy/ paths).
   */
  attach(server: HttpServer, claim?: UpgradeClaim): void;
  /** Open sockets on this node. */
  connectionCount(): number;
  /** Stops accepting upgrades and closes every open socket with `code` (1001 on shutdown). */
  closeAll(code: number, reason: string): Promise<void>;
}
