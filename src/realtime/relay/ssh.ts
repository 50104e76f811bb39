import { StringDecoder } from 'node:string_decoder';
import type { ClientChannel } from 'ssh2';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { connectSsh, type SshClient, SshConnectError, type SshTarget } from '../../services/sftp/ssh-session';
import type { RealtimeSocket, SocketData } from '../types';

// The terminal relay of seed 002 over ssh2: a PTY shell on the target, JSON frames on the socket.
// client {type:"input",data} {type:"resize",cols,rows} {type:"ping"}
// server {type:"output",data} {type:"pong"} {type:"error",message}

export const TerminalClientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input'), data: z.string().max(64 * 1024) }),
  z.object({
    type: z.literal('resize'),
    cols: z.number().int().min(1).max(1000),
    rows: z.number().int().min(1).max(1000),
  }),
  z.object({ type: z.literal('ping') }),
]);
export type TerminalClientFrame = z.infer<typeof TerminalClientFrame>;

/** Close codes of a relay socket (4000 + the HTTP status of the same condition). */
export const RelayClose = {
  ENDED: 1000,
  BAD_GATEWAY: 4502,
  HOST_KEY_CHANGED: 4409,
} as const;

export type Backpressure = {
  /** Pause the SSH stream once this many bytes wait to be written to the client. */
  highWaterBytes: number;
  /** Resume it once the queue has drained below this. */
  lowWaterBytes: number;
  pollMs: number;
};

export const DEFAULT_BACKPRESSURE: Backpressure = {
  highWaterBytes: 256 * 1024,
  lowWaterBytes: 64 * 1024,
  pollMs: 20,
};

/** Input typed before the shell opened is kept up to this much. */
const MAX_PENDING_INPUT = 64 * 1024;

export class SshTerminalRelay {
  private client: SshClient | null = null;
  private stream: ClientChannel | null = null;
  private cols = 80;
  private rows = 24;
  private pending: string[] = [];
  private pendingBytes = 0;
  private ended = false;
  private paused = false;
  private drainTimer: NodeJS.Timeout | null = null;
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly socket: RealtimeSocket<unknown>,
    private readonly target: SshTarget,
    private readonly opts: { db: Db; backpressure: Backpressure },
  ) {}

  async start() {
    let client: SshClient;
    try {
      ({ client } = await connectSsh(this.opts.db, this.target));
    } catch (err) {
      const hostKey = err instanceof SshConnectError && err.kind === 'host_key';
      const message = err instanceof Error ? err.message : 'Connection failed';
      return this.fail(message, hostKey ? RelayClose.HOST_KEY_CHANGED : RelayClose.BAD_GATEWAY);
    }
    if (this.ended) return void client.end();
    this.client = client;
    client.on('error', (err) => this.fail(`SSH error: ${err.message}`, RelayClose.BAD_GATEWAY));
    client.on('close', () => this.finish('Session ended'));
    client.shell({ term: 'xterm-256color', cols: this.cols, rows: this.rows }, (err, stream) => {
      if (err) return this.fail(`Could not open a shell: ${err.message}`, RelayClose.BAD_GATEWAY);
      if (this.ended) return void stream.close();
      this.stream = stream;
      stream.on('data', (chunk: Buffer) => this.output(chunk));
      stream.stderr.on('data', (chunk: Buffer) => this.output(chunk));
      stream.on('close', () => this.finish('Session ended'));
      for (const data of this.pending) stream.write(data);
      this.pending = [];
      this.pendingBytes = 0;
    });
  }

  handle(data: SocketData, isBinary: boolean) {
    if (this.ended) return;
    let frame: TerminalClientFrame;
    try {
      if (isBinary) throw new Error('binary');
      const parsed = TerminalClientFrame.safeParse(
        JSON.parse(typeof data === 'string' ? data : data.toString('utf8')),
      );
      if (!parsed.success) {
        const type =
          (parsed.error.issues[0]?.path[0] === 'type' && 'Unknown message type') || 'Invalid message';
        return void this.socket.sendJson({ type: 'error', message: type });
      }
      frame = parsed.data;
    } catch {
      return void this.socket.sendJson({ type: 'error', message: 'Messages must be JSON text frames' });
    }
    switch (frame.type) {
      case 'ping':
        this.socket.sendJson({ type: 'pong' });
        return;
      case 'resize':
        this.cols = frame.cols;
        this.rows = frame.rows;
        this.stream?.setWindow(frame.rows, frame.cols, 0, 0);
        return;
      case 'input':
        if (this.stream) this.stream.write(frame.data);
        else if (this.pendingBytes + frame.data.length <= MAX_PENDING_INPUT) {
          this.pending.push(frame.data);
          this.pendingBytes += frame.data.length;
        }
        return;
    }
  }

  /** The socket went away: end the SSH session. */
  close() {
    if (this.ended) return;
    this.ended = true;
    this.teardown();
  }

  private output(chunk: Buffer) {
    const data = this.decoder.write(chunk);
    if (data.length === 0 || this.socket.closed) return;
    this.socket.sendJson({ type: 'output', data });
    if (!this.paused && this.socket.bufferedAmount > this.opts.backpressure.highWaterBytes) this.pause();
  }

  /** Stops reading from SSH (its window fills, so the remote side stops too) until the client catches up. */
  private pause() {
    if (!this.stream) return;
    this.paused = true;
    this.stream.pause();
    this.drainTimer = setInterval(() => {
      if (this.socket.closed) return this.close();
      if (this.socket.bufferedAmount > this.opts.backpressure.lowWaterBytes) return;
      if (this.drainTimer) clearInterval(this.drainTimer);
      this.drainTimer = null;
      this.paused = false;
      this.stream?.resume();
    }, this.opts.backpressure.pollMs);
  }

  private fail(message: string, code: number) {
    if (this.ended) return;
    this.ended = true;
    if (!this.socket.closed) {
      this.socket.sendJson({ type: 'error', message });
      this.socket.close(code, message.slice(0, 120));
    }
    this.teardown();
  }

  private finish(reason: string) {
    if (this.ended) return;
    this.ended = true;
    const rest = this.decoder.end();
    if (rest && !this.socket.closed) this.socket.sendJson({ type: 'output', data: rest });
    if (!this.socket.closed) this.socket.close(RelayClose.ENDED, reason);
    this.teardown();
  }

  private teardown() {
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.drainTimer = null;
    this.stream?.close();
    this.client?.end();
    this.stream = null;
    this.client = null;
  }
}
