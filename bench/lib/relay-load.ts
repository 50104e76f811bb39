import net from 'node:net';
import { WebSocket } from 'ws';

// A child process that pushes bytes through a TCP echo path and times the round trip, so the load
// generator never shares a process with Portal or the echo server. Over IPC:
//   parent → {type:"run", mode:"relay", url, bytes} | {type:"run", mode:"direct", port, bytes}
//   child  → {type:"done", ms}
// Frames/writes are 32 KiB; at most WINDOW bytes are outstanding (sent and not yet echoed), which
// keeps both paths in their steady state instead of measuring a queue.
type Run = { type: 'run'; mode: 'relay' | 'direct'; url?: string; port?: number; bytes: number };

const CHUNK = Buffer.alloc(32 * 1024, 7);
const WINDOW = 1024 * 1024;

function pump(send: (b: Buffer) => void, total: number, onData: (cb: (n: number) => void) => void) {
  return new Promise<number>((resolve) => {
    const started = performance.now();
    let sent = 0;
    let received = 0;
    const fill = () => {
      while (sent < total && sent - received < WINDOW) {
        send(CHUNK);
        sent += CHUNK.length;
      }
    };
    onData((n) => {
      received += n;
      if (received >= total) resolve(performance.now() - started);
      else fill();
    });
    fill();
  });
}

process.on('message', async (cmd: Run) => {
  if (cmd.type !== 'run') return;
  let ms: number;
  if (cmd.mode === 'direct') {
    const socket = net.connect({ host: '127.0.0.1', port: cmd.port! });
    await new Promise((r) => socket.once('connect', r));
    socket.setNoDelay(true);
    ms = await pump(
      (b) => socket.write(b),
      cmd.bytes,
      (cb) => socket.on('data', (d) => cb(d.length)),
    );
    socket.destroy();
  } else {
    const ws = new WebSocket(cmd.url!, { perMessageDeflate: false });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    ms = await pump(
      (b) => ws.send(b),
      cmd.bytes,
      (cb) => ws.on('message', (d: Buffer) => cb(d.length)),
    );
    ws.terminate();
  }
  process.send?.({ type: 'done', ms });
});
