import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { describeError } from '../core/errors';
import { CloseCode } from './protocol';
import type { RealtimeSocket, TransportOptions, WsRoute } from './types';

// Pieces both transports share, so uWS and ws differ only in how bytes reach the wire.

export type TransportLog = TransportOptions['log'];

/** Per-socket message budget: `rate` per second on average, bursts up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly rate: number,
    private readonly burst = rate * 2,
  ) {
    this.tokens = burst;
  }

  take(now = performance.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Open sockets per key; a slot is taken before the upgrade completes so parallel upgrades cannot overshoot. */
export class KeyCounter {
  private readonly counts = new Map<string, number>();

  /** Returns the release function, or null when `key` already holds `max` slots. */
  tryAcquire(key: string, max: number): (() => void) | null {
    const count = this.counts.get(key) ?? 0;
    if (count >= max) return null;
    this.counts.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left <= 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }
}

export type Refusal = { status: number; statusText: string; headers: Record<string, string>; body: string };

/** The contract's error body for a refused upgrade; the correlation id is also in the log line. */
export function buildRefusal(err: unknown, log: TransportLog, context: Record<string, unknown>): Refusal {
  const { body, internal } = describeError(err);
  const correlationId = randomUUID();
  const line = { ...context, status: body.status, correlation_id: correlationId };
  if (internal) log.error({ ...line, err }, 'websocket upgrade failed');
  else log.info(line, 'websocket upgrade refused');
  const headers: Record<string, string> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Correlation-Id': correlationId,
  };
  if (body.status === 429 || body.status === 503) headers['Retry-After'] = String(body.retry_after ?? 1);
  return {
    status: body.status,
    statusText: STATUS_CODES[body.status] ?? 'Error',
    headers,
    body: JSON.stringify({ ...body, correlation_id: correlationId }),
  };
}

/** Answers an upgrade on a raw node socket (no http.ServerResponse exists there) and closes it. */
export function writeRawRefusal(socket: Duplex, refusal: Refusal): void {
  if (socket.destroyed) return;
  const headers = {
    ...refusal.headers,
    'Content-Length': String(Buffer.byteLength(refusal.body)),
    Connection: 'close',
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  socket.end(
    `HTTP/1.1 ${refusal.status} ${refusal.statusText}\r\n${lines.join('\r\n')}\r\n\r\n${refusal.body}`,
  );
  // A client that never reads must not keep the socket forever.
  setTimeout(() => socket.destroy(), 2000).unref();
}

export function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  return q < 0
    ? { path: url, query: new URLSearchParams() }
    : { path: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}

/** Merges a repeated header the way node does for requests. */
export function addHeader(headers: Record<string, string>, name: string, value: string): void {
  const prev = headers[name];
  headers[name] = prev === undefined ? value : `${prev}${name === 'cookie' ? '; ' : ', '}${value}`;
}

/** Close reasons are limited to 123 bytes by RFC 6455. */
export function clampReason(reason: string): string {
  const buf = Buffer.from(reason);
  return buf.length <= 123
    ? reason
    : buf
        .subarray(0, 120)
        .toString()
        .replace(/\uFFFD+$/, '');
}

/** The few primitives a transport supplies; everything else lives in TransportSocket and the core. */
export type SocketDriver = {
  /** Returns false when the transport dropped the frame. */
  send(data: string | Uint8Array, isBinary: boolean): boolean;
  bufferedAmount(): number;
  end(code: number, reason: string): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
  subscribe(topic: string, socket: TransportSocket<unknown>): void;
  unsubscribe(topic: string, socket: TransportSocket<unknown>): void;
};

export class TransportSocket<A> implements RealtimeSocket<A> {
  readonly id = randomUUID();
  state: Record<string, unknown> = {};
  readonly topics = new Set<string>();
  readonly bucket: TokenBucket;
  /** Set when the server closed the socket, so hubs see the code the server chose, not the peer's echo. */
  closeRequest: { code: number; reason: string } | null = null;
  private ended = false;
  private readonly drainListeners = new Set<() => void>();

  constructor(
    readonly handlers: WsRoute<A>,
    readonly auth: A,
    readonly ip: string,
    readonly params: Record<string, string>,
    readonly query: URLSearchParams,
    private readonly driver: SocketDriver,
    private readonly maxBackpressureBytes: number,
    messagesPerSecond: number,
  ) {
    this.bucket = new TokenBucket(messagesPerSecond);
  }

  get route(): string {
    return this.handlers.pattern;
  }

  get closed(): boolean {
    return this.ended || this.closeRequest !== null;
  }

  get bufferedAmount(): number {
    return this.closed ? 0 : this.driver.bufferedAmount();
  }

  send(data: string | Uint8Array, isBinary = typeof data !== 'string'): boolean {
    if (this.closed) return false;
    // Checked before queueing: a client that stops reading is dropped instead of growing server memory.
    if (this.driver.bufferedAmount() > this.maxBackpressureBytes) {
      this.close(CloseCode.SLOW_CONSUMER, 'Slow consumer');
      return false;
    }
    return this.driver.send(data, isBinary);
  }

  onDrain(listener: () => void): () => void {
    this.drainListeners.add(listener);
    return () => this.drainListeners.delete(listener);
  }

  /** Called by the transport when queued bytes were written out. */
  drained(): void {
    for (const listener of [...this.drainListeners]) listener();
  }

  sendJson(message: unknown): boolean {
    return this.send(JSON.stringify(message), false);
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.closed) return;
    this.closeRequest = { code, reason: clampReason(reason) };
    this.driver.end(code, this.closeRequest.reason);
  }

  terminate(): void {
    if (!this.ended) this.driver.terminate();
  }

  subscribe(topic: string): void {
    if (this.closed || this.topics.has(topic)) return;
    this.topics.add(topic);
    this.driver.subscribe(topic, this as TransportSocket<unknown>);
  }

  unsubscribe(topic: string): void {
    if (!this.topics.delete(topic) || this.ended) return;
    this.driver.unsubscribe(topic, this as TransportSocket<unknown>);
  }

  /** Called by the core once the connection is really gone; the driver is never touched after. */
  markEnded(): void {
    this.ended = true;
    this.drainListeners.clear();
  }
}
