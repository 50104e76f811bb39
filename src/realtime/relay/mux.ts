import net from 'node:net';
import type { RealtimeSocket, SocketData } from '../types';
import {
  IDLE_TIMEOUT_MS,
  type IdleTimer,
  RelayClose,
  type RelayLimits,
  SocketDrain,
  startIdleTimer,
} from './common';
import { CONNECT_TIMEOUT_MS, connectFailure, type TcpTarget } from './tcp';

// `secure_tunnel` of API.md §9: several TCP streams to one connection's host:port multiplexed over
// one WebSocket. Route: `/ws/user-connection/{id}?mux=1`, for connections whose plugin is `tunnel`
// (database, redis, tcp_tunnel); authentication, ownership (404) and the per-user relay cap are the
// hub's. Full description with examples: docs/relay-mux.md.
//
// Every WebSocket message is one binary frame (text frames close the socket 4400 "Binary frames only"):
//   byte 0      op: 1 OPEN, 2 DATA, 3 CLOSE, 4 WINDOW
//   bytes 1..4  stream id, unsigned 32-bit big-endian, chosen by the client
//   bytes 5..   payload
// OPEN   client → server, empty payload: connect a new stream. The server answers OPEN (empty) once
//        the TCP connection is up, or CLOSE if it is not.
// DATA   both ways: bytes of the stream. Never more than the sender's credit (below).
// CLOSE  both ways: payload = 1 reason byte + optional UTF-8 text. Reasons: 0 ended normally,
//        1 connect failed, 2 backend error, 3 protocol error (flow-control violation, id in use,
//        unknown op), 4 too many streams. Full close: the client's CLOSE ends the TCP socket (after
//        the bytes already sent are written); after a CLOSE either way the id may be reused.
// WINDOW both ways: payload = 4-byte big-endian increment of the peer's credit for that stream.
// Flow control: each direction of each stream starts with INITIAL_WINDOW bytes of credit. The
// server never sends more DATA than the client granted, and pauses that stream's TCP socket when the
// credit is used up; it grants the client more once the client's bytes have been written to TCP.
// A client that exceeds its credit gets that stream closed with reason 3. On top of that, every TCP
// socket of the WebSocket is paused while its bufferedAmount is above the high-water mark.
// At most MAX_STREAMS open streams per socket (more → CLOSE reason 4 for the new id). Any error
// of one stream closes only that stream; a frame shorter than 5 bytes closes the socket 4400.
// No byte on any stream for IDLE_TIMEOUT_MS closes the socket 4408 (streams first get CLOSE 0).
// DATA/WINDOW/CLOSE for an id that is not open are ignored (they race with a close).

export const MuxOp = { OPEN: 1, DATA: 2, CLOSE: 3, WINDOW: 4 } as const;
export const MuxCloseReason = {
  ENDED: 0,
  CONNECT_FAILED: 1,
  BACKEND_ERROR: 2,
  PROTOCOL_ERROR: 3,
  TOO_MANY_STREAMS: 4,
} as const;

export const INITIAL_WINDOW = 256 * 1024;
export const MAX_STREAMS = 32;
/** Largest DATA payload the server sends (TCP reads are at most 64 KiB anyway). */
const MAX_DATA_PAYLOAD = 64 * 1024;
/** Client credit is granted back in steps of at least this many bytes. */
const GRANT_STEP = INITIAL_WINDOW / 4;

export function muxFrame(op: number, streamId: number, payload?: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + (payload?.length ?? 0));
  frame.writeUInt8(op, 0);
  frame.writeUInt32BE(streamId >>> 0, 1);
  if (payload) frame.set(payload, 5);
  return frame;
}

export function closeFrame(streamId: number, reason: number, text = ''): Buffer {
  const body = Buffer.from(text.slice(0, 200), 'utf8');
  const payload = Buffer.allocUnsafe(1 + body.length);
  payload.writeUInt8(reason, 0);
  body.copy(payload, 1);
  return muxFrame(MuxOp.CLOSE, streamId, payload);
}

export function windowFrame(streamId: number, bytes: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(bytes >>> 0, 0);
  return muxFrame(MuxOp.WINDOW, streamId, payload);
}

type Stream = {
  id: number;
  tcp: net.Socket;
  connected: boolean;
  /** Bytes the server may still send to the client. */
  sendCredit: number;
  /** Bytes the client may still send to the server. */
  recvCredit: number;
  /** Client bytes written to TCP and not yet granted back. */
  toGrant: number;
  /** Backend bytes read but waiting for credit (at most one TCP read). */
  held: Buffer[];
  /** The backend ended while bytes were held: send CLOSE once they are out. */
  endPending: boolean;
  /** Client bytes that arrived before the TCP connection was up. */
  early: Buffer[];
};

export type MuxRelayOptions = Omit<RelayLimits, 'maxInboundBytes'> & { connectTimeoutMs?: number };

export class MuxRelay {
  private readonly streams = new Map<number, Stream>();
  private ended = false;
  /** Every backend is paused while the client's queue is full. */
  private readonly drain: SocketDrain;
  private idle: IdleTimer | null = null;

  constructor(
    private readonly socket: RealtimeSocket<unknown>,
    private readonly target: TcpTarget,
    private readonly opts: MuxRelayOptions,
  ) {
    this.drain = new SocketDrain(socket, opts.backpressure, {
      pause: () => {
        for (const s of this.streams.values()) s.tcp.pause();
      },
      resume: () => {
        for (const s of this.streams.values()) this.pump(s);
      },
      gone: () => this.close(),
    });
  }

  start() {
    this.idle = startIdleTimer(this.opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS, () => {
      for (const id of [...this.streams.keys()]) this.closeStream(id, MuxCloseReason.ENDED, 'Idle timeout');
      this.shutdown(RelayClose.IDLE, 'Idle timeout');
    });
  }

  handle(data: SocketData, isBinary: boolean) {
    if (this.ended) return;
    if (!isBinary || typeof data === 'string')
      return this.shutdown(RelayClose.BAD_FRAME, 'Binary frames only');
    if (data.length < 5) return this.shutdown(RelayClose.BAD_FRAME, 'Malformed frame');
    this.idle?.touch();
    const op = data.readUInt8(0);
    const id = data.readUInt32BE(1);
    const payload = data.subarray(5);
    switch (op) {
      case MuxOp.OPEN:
        return this.open(id);
      case MuxOp.DATA:
        return this.data(id, payload);
      case MuxOp.CLOSE: {
        const stream = this.streams.get(id);
        if (!stream) return;
        this.streams.delete(id);
        this.endGracefully(stream);
        return;
      }
      case MuxOp.WINDOW: {
        const stream = this.streams.get(id);
        if (!stream) return;
        if (payload.length !== 4)
          return this.closeStream(id, MuxCloseReason.PROTOCOL_ERROR, 'WINDOW needs a 4-byte count');
        stream.sendCredit = Math.min(stream.sendCredit + payload.readUInt32BE(0), 2 ** 32 - 1);
        this.pump(stream);
        return;
      }
      default:
        if (this.streams.has(id)) this.closeStream(id, MuxCloseReason.PROTOCOL_ERROR, `Unknown op ${op}`);
        else this.send(closeFrame(id, MuxCloseReason.PROTOCOL_ERROR, `Unknown op ${op}`));
    }
  }

  /** The socket went away: destroy every stream. */
  close() {
    if (this.ended) return;
    this.ended = true;
    this.teardown();
  }

  /** Open streams (for tests and metrics). */
  get openStreams() {
    return this.streams.size;
  }

  private open(id: number) {
    if (this.streams.has(id)) return this.closeStream(id, MuxCloseReason.PROTOCOL_ERROR, 'Stream id in use');
    if (this.streams.size >= MAX_STREAMS)
      return void this.send(closeFrame(id, MuxCloseReason.TOO_MANY_STREAMS, 'Too many streams'));
    const tcp = net.connect({ host: this.target.host, port: this.target.port });
    const stream: Stream = {
      id,
      tcp,
      connected: false,
      sendCredit: INITIAL_WINDOW,
      recvCredit: INITIAL_WINDOW,
      toGrant: 0,
      held: [],
      endPending: false,
      early: [],
    };
    this.streams.set(id, stream);
    const current = () => this.streams.get(id) === stream;
    tcp.setNoDelay(true);
    tcp.setTimeout(this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, () => {
      if (!stream.connected) tcp.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    });
    if (this.drain.waiting) tcp.pause();
    tcp.once('connect', () => {
      tcp.setTimeout(0);
      stream.connected = true;
      if (!current()) return;
      this.send(muxFrame(MuxOp.OPEN, id));
      for (const chunk of stream.early) this.write(stream, chunk);
      stream.early = [];
    });
    tcp.on('data', (chunk: Buffer) => {
      if (!current()) return;
      this.idle?.touch();
      stream.held.push(chunk);
      this.pump(stream);
    });
    tcp.once('end', () => {
      if (!current()) return;
      if (stream.held.length > 0) stream.endPending = true;
      else this.closeStream(id, MuxCloseReason.ENDED, 'Connection closed by the backend');
    });
    tcp.once('error', (err) => {
      if (!current()) return;
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      if (stream.connected) this.closeStream(id, MuxCloseReason.BACKEND_ERROR, `Backend error: ${code}`);
      else this.closeStream(id, MuxCloseReason.CONNECT_FAILED, connectFailure(this.target, err));
    });
    tcp.once('close', () => {
      if (current() && !stream.endPending)
        this.closeStream(id, MuxCloseReason.ENDED, 'Connection closed by the backend');
    });
  }

  private data(id: number, payload: Buffer) {
    const stream = this.streams.get(id);
    if (!stream || payload.length === 0) return;
    if (payload.length > stream.recvCredit)
      return this.closeStream(id, MuxCloseReason.PROTOCOL_ERROR, 'Flow control window exceeded');
    stream.recvCredit -= payload.length;
    // The transport may reuse its buffer after the callback returns.
    const chunk = Buffer.from(payload);
    if (stream.connected) this.write(stream, chunk);
    else stream.early.push(chunk);
  }

  /** Writes client bytes to TCP; their credit goes back to the client once TCP has taken them. */
  private write(stream: Stream, chunk: Buffer) {
    stream.tcp.write(chunk, (err) => {
      if (err || this.ended || this.streams.get(stream.id) !== stream) return;
      stream.toGrant += chunk.length;
      if (stream.toGrant < GRANT_STEP) return;
      const grant = stream.toGrant;
      stream.toGrant = 0;
      stream.recvCredit += grant;
      this.send(windowFrame(stream.id, grant));
    });
  }

  /** Sends held backend bytes within the stream's credit; pauses or resumes its TCP socket to match. */
  private pump(stream: Stream) {
    while (stream.held.length > 0 && stream.sendCredit > 0 && !this.ended) {
      const head = stream.held[0] as Buffer;
      const n = Math.min(head.length, stream.sendCredit, MAX_DATA_PAYLOAD);
      this.send(muxFrame(MuxOp.DATA, stream.id, head.subarray(0, n)));
      stream.sendCredit -= n;
      if (n === head.length) stream.held.shift();
      else stream.held[0] = head.subarray(n);
    }
    if (this.ended || this.streams.get(stream.id) !== stream) return;
    if (stream.held.length > 0) {
      stream.tcp.pause();
      return;
    }
    if (stream.endPending)
      return this.closeStream(stream.id, MuxCloseReason.ENDED, 'Connection closed by the backend');
    this.drain.check();
    if (!this.drain.waiting && stream.tcp.isPaused()) stream.tcp.resume();
  }

  private send(frame: Buffer) {
    if (this.ended || this.socket.closed) return;
    this.socket.send(frame, true);
  }

  /** Closes one stream: CLOSE to the client, the TCP socket destroyed. */
  private closeStream(id: number, reason: number, text: string) {
    const stream = this.streams.get(id);
    if (!stream) return;
    this.streams.delete(id);
    stream.held = [];
    stream.early = [];
    stream.tcp.destroy();
    this.send(closeFrame(id, reason, text));
  }

  /** The client closed a stream: let TCP write what it has, then end it (destroyed if it lingers). */
  private endGracefully(stream: Stream) {
    stream.held = [];
    const tcp = stream.tcp;
    if (!stream.connected) return void tcp.destroy();
    for (const chunk of stream.early) tcp.write(chunk);
    tcp.end();
    tcp.resume();
    setTimeout(() => tcp.destroy(), 5000).unref();
  }

  private shutdown(code: number, reason: string) {
    if (this.ended) return;
    this.ended = true;
    if (!this.socket.closed) this.socket.close(code, reason);
    this.teardown();
  }

  private teardown() {
    this.drain.stop();
    this.idle?.stop();
    for (const stream of this.streams.values()) stream.tcp.destroy();
    this.streams.clear();
  }
}
