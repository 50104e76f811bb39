import { StringDecoder } from 'node:string_decoder';
import type { RealtimeSocket, SocketData } from '../types';
import { PipeRelay, RelayClose, type RelayLimits } from './common';
import { parseTerminalFrame, type TerminalServerFrame } from './terminal-protocol';

// One terminal session on a WebSocket, whatever runs it (an SSH shell in ssh.ts, a local PTY in
// pty.ts): the seed's JSON protocol, output decoded as UTF-8 across chunk boundaries, flow
// control both ways, the idle timeout (input, output, resize and the seed's keep-alive `ping` all
// count as activity) and teardown of both sides.

/** What a backend reports to the relay. */
export type TerminalEvents = {
  output(chunk: Buffer | string): void;
  /** The backend takes input again after a `write` returned false. */
  drain(): void;
  /** The session ended normally (shell exited, connection closed). */
  end(reason: string): void;
  /** The session failed after it opened. */
  fail(message: string): void;
};

export type TerminalBackend = {
  /** False: stop writing until `events.drain()`. */
  write(data: string): boolean;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  close(): void;
};

/** Opens the session at the size the client asked for so far. */
export type OpenTerminal = (
  size: { cols: number; rows: number },
  events: TerminalEvents,
) => Promise<TerminalBackend>;

/** Opening failed: the client gets `{type:"error",message}` and the socket closes with `code`. */
export class TerminalOpenError extends Error {
  constructor(
    message: string,
    readonly code: number = RelayClose.BAD_GATEWAY,
  ) {
    super(message);
    this.name = 'TerminalOpenError';
  }
}

export class TerminalRelay extends PipeRelay<string> {
  private backend: TerminalBackend | null = null;
  private cols = 80;
  private rows = 24;
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    socket: RealtimeSocket<unknown>,
    private readonly open: OpenTerminal,
    limits: RelayLimits,
  ) {
    super(socket, limits);
  }

  async start() {
    this.startIdleTimer();
    let backend: TerminalBackend;
    const size = { cols: this.cols, rows: this.rows };
    try {
      backend = await this.open(size, {
        output: (chunk) => this.output(chunk),
        drain: () => this.inbound.drained(),
        end: (reason) => this.finish(reason),
        fail: (message) => this.fail(message, RelayClose.BAD_GATEWAY, true),
      });
    } catch (err) {
      const code = err instanceof TerminalOpenError ? err.code : RelayClose.BAD_GATEWAY;
      return this.fail(err instanceof Error ? err.message : 'Connection failed', code, true);
    }
    if (this.ended) return backend.close();
    this.backend = backend;
    // A resize that arrived while the session was opening.
    if (this.cols !== size.cols || this.rows !== size.rows) backend.resize(this.cols, this.rows);
    this.inbound.attach((data) => backend.write(data));
  }

  handle(data: SocketData, isBinary: boolean) {
    if (this.ended) return;
    const parsed = parseTerminalFrame(data, isBinary);
    if ('error' in parsed) return void this.send({ type: 'error', message: parsed.error });
    const frame = parsed.frame;
    this.touch();
    switch (frame.type) {
      case 'ping':
        this.send({ type: 'pong' });
        return;
      case 'resize':
        this.cols = frame.cols;
        this.rows = frame.rows;
        this.backend?.resize(frame.cols, frame.rows);
        return;
      case 'input':
        this.forward(frame.data, 'The terminal is not reading input fast enough');
        return;
    }
  }

  private send(frame: TerminalServerFrame) {
    if (!this.socket.closed) this.socket.sendJson(frame);
  }

  private output(chunk: Buffer | string) {
    if (this.ended) return;
    const data = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (data.length === 0 || this.socket.closed) return;
    this.touch();
    this.send({ type: 'output', data });
    this.drain.check();
  }

  protected override flushOutput() {
    const rest = this.decoder.end();
    if (rest) this.send({ type: 'output', data: rest });
  }

  protected pauseBackend() {
    this.backend?.pause();
  }

  protected resumeBackend() {
    this.backend?.resume();
  }

  protected destroyBackend() {
    this.backend?.close();
    this.backend = null;
  }
}
