import type { RealtimeSocket } from '../types';

// What every relay (raw TCP, multiplexed tunnel, SSH terminal, local PTY) shares: flow control
// toward the WebSocket, flow control toward the backend, the idle timeout and the close codes.

export type Backpressure = {
  /** Pause the backend once this many bytes wait to be written to the client. */
  highWaterBytes: number;
  /** Resume it once the queue has drained below this. */
  lowWaterBytes: number;
  /**
   * How often bufferedAmount is looked at while paused, besides the socket's drain event (which
   * the `ws` transport does not have) and to notice a socket that closed meanwhile.
   */
  pollMs: number;
};

export const DEFAULT_BACKPRESSURE: Backpressure = {
  highWaterBytes: 256 * 1024,
  lowWaterBytes: 64 * 1024,
  pollMs: 20,
};

/** Frames a second one relay socket may send (burst twice that); past it the socket is closed 4429. */
export const RELAY_MESSAGES_PER_SECOND = 20_000;

/** No byte (or terminal ping) in either direction for this long closes both sides (RELAY_IDLE_TIMEOUT_SECONDS). */
export const IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** Client bytes waiting for a backend that is not taking them (before connect, or until 'drain'). */
export const MAX_INBOUND_BUFFER = 4 * 1024 * 1024;

/** Close codes of a relay socket (4000 + the HTTP status of the same condition). */
export const RelayClose = {
  ENDED: 1000,
  SLOW_CONSUMER: 4008,
  BAD_FRAME: 4400,
  IDLE: 4408,
  HOST_KEY_CHANGED: 4409,
  BAD_GATEWAY: 4502,
} as const;

/** Options every relay takes from the hub. */
export type RelayLimits = {
  backpressure: Backpressure;
  idleTimeoutMs?: number;
  maxInboundBytes?: number;
};

/**
 * Calls `onIdle` once nothing was `touch`ed for `idleMs`. Checked a few times per period, so the
 * timeout fires at most a quarter period late.
 */
export function startIdleTimer(idleMs: number, onIdle: () => void) {
  let last = Date.now();
  const timer = setInterval(
    () => {
      if (Date.now() - last < idleMs) return;
      clearInterval(timer);
      onIdle();
    },
    Math.max(50, Math.min(30_000, Math.floor(idleMs / 4))),
  );
  return {
    touch() {
      last = Date.now();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
export type IdleTimer = ReturnType<typeof startIdleTimer>;

/**
 * Backend → client flow control: after each send, `check()` pauses the backend once the socket's
 * queue passes the high-water mark, and resumes it when the queue is below the low-water mark, as
 * soon as the transport reports a drain (a poll alone cost up to `pollMs` per pause: a third of a
 * tunnel's throughput on loopback). Pausing the reader lets TCP's or SSH's own window push back
 * on the far end, so a slow client never grows server memory.
 */
export class SocketDrain {
  private timer: NodeJS.Timeout | null = null;
  private offDrain: (() => void) | null = null;

  constructor(
    private readonly socket: RealtimeSocket<unknown>,
    private readonly backpressure: Backpressure,
    private readonly side: {
      pause(): void;
      resume(): void;
      /** The socket closed while the backend was paused. */
      gone(): void;
    },
  ) {}

  /** True while the backend is paused for the client. */
  get waiting(): boolean {
    return this.timer !== null;
  }

  check() {
    if (this.timer || this.socket.bufferedAmount <= this.backpressure.highWaterBytes) return;
    this.side.pause();
    const look = () => {
      if (!this.timer) return;
      if (this.socket.closed) {
        this.stop();
        return this.side.gone();
      }
      if (this.socket.bufferedAmount > this.backpressure.lowWaterBytes) return;
      this.stop();
      this.side.resume();
    };
    this.timer = setInterval(look, this.backpressure.pollMs);
    this.offDrain = this.socket.onDrain(look);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.offDrain?.();
    this.offDrain = null;
  }
}

/**
 * Client → backend flow control: chunks are written while the backend's `write()` returns true;
 * after a false they wait for `drained()` (the backend's 'drain' event). The transport cannot stop
 * reading one WebSocket, so waiting bytes are bounded: `push` returns false past `maxBytes` and the
 * caller closes the client instead of growing memory. Chunks pushed before `attach` (the backend
 * is still connecting) wait the same way.
 */
export class InboundQueue<T extends string | Buffer> {
  private queue: T[] = [];
  private bytes = 0;
  private blocked = false;
  private write: ((chunk: T) => boolean) | null = null;

  constructor(private readonly maxBytes: number) {}

  attach(write: (chunk: T) => boolean) {
    this.write = write;
    this.flush();
  }

  /** Queues and writes what the backend takes; false when the cap would be passed (nothing queued). */
  push(chunk: T): boolean {
    if (this.bytes + chunk.length > this.maxBytes) return false;
    this.queue.push(chunk);
    this.bytes += chunk.length;
    this.flush();
    return true;
  }

  drained() {
    this.blocked = false;
    this.flush();
  }

  clear() {
    this.queue = [];
    this.bytes = 0;
    this.write = null;
  }

  private flush() {
    const write = this.write;
    if (!write) return;
    while (this.queue.length > 0 && !this.blocked) {
      const chunk = this.queue.shift() as T;
      this.bytes -= chunk.length;
      if (!write(chunk)) this.blocked = true;
    }
  }
}

/**
 * The skeleton of a relay to one backend stream (raw TCP, a terminal): both flow-control
 * directions, the idle timeout, and the three ways it ends — the client left (`close`), a
 * failure (`fail`: optionally one `{type:"error"}` frame, then the close code), or the backend
 * ended (`finish`: 1000). Every way ends the backend exactly once.
 */
export abstract class PipeRelay<In extends string | Buffer> {
  protected ended = false;
  /** Client data not yet taken by the backend. */
  protected readonly inbound: InboundQueue<In>;
  protected readonly drain: SocketDrain;
  private idle: IdleTimer | null = null;

  constructor(
    protected readonly socket: RealtimeSocket<unknown>,
    protected readonly limits: RelayLimits,
  ) {
    this.inbound = new InboundQueue(limits.maxInboundBytes ?? MAX_INBOUND_BUFFER);
    this.drain = new SocketDrain(socket, limits.backpressure, {
      pause: () => this.pauseBackend(),
      resume: () => {
        if (!this.ended) this.resumeBackend();
      },
      gone: () => this.close(),
    });
  }

  protected abstract pauseBackend(): void;
  protected abstract resumeBackend(): void;
  protected abstract destroyBackend(): void;
  /** Last output to send before a normal close (a terminal's undecoded bytes). */
  protected flushOutput(): void {}

  protected startIdleTimer() {
    this.idle = startIdleTimer(this.limits.idleTimeoutMs ?? IDLE_TIMEOUT_MS, () =>
      this.fail('Idle timeout', RelayClose.IDLE, false),
    );
  }

  protected touch() {
    this.idle?.touch();
  }

  /** Queues client data for the backend; a client far ahead of a stuck backend is closed 4008. */
  protected forward(chunk: In, stuckMessage: string) {
    if (!this.inbound.push(chunk)) this.fail(stuckMessage, RelayClose.SLOW_CONSUMER, true);
  }

  /** The socket went away: end the backend. */
  close() {
    if (this.ended) return;
    this.ended = true;
    this.teardown();
  }

  protected fail(message: string, code: number, report: boolean) {
    if (this.ended) return;
    this.ended = true;
    if (!this.socket.closed) {
      if (report) this.socket.sendJson({ type: 'error', message });
      this.socket.close(code, message.slice(0, 120));
    }
    this.teardown();
  }

  protected finish(reason: string) {
    if (this.ended) return;
    this.flushOutput();
    this.ended = true;
    if (!this.socket.closed) this.socket.close(RelayClose.ENDED, reason);
    this.teardown();
  }

  private teardown() {
    this.drain.stop();
    this.idle?.stop();
    this.inbound.clear();
    this.destroyBackend();
  }
}
