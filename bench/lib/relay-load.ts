import net from 'node:net';
import { WebSocket } from 'ws';

// A child process that pushes bytes through a TCP echo path and times the round trip, so the load
// generator never shares a process with Portal or the echo server. Over IPC:
//   parent → {type:"run", mode:"relay", url, bytes} | {type:"run", mode:"direct", port, bytes}
//   child  → {type:"done", ms} | {type:"failed", message} (the path closed or failed mid-run)
// Frames/writes are 32 KiB; at most WINDOW bytes are outstanding (sent and not yet echoed), which
// keeps both paths in their steady state instead of measuring a queue.
type Run = { type: 'run'; mode: 'relay' | 'direct'; url?: string; port?: number; bytes: number };
type Path = {
  send(b: Buffer): void;
  onData(cb: (n: number) => void): void;
  /** Called when the path ends before every byte came back. */
  onEnd(cb: (why: string) => void): void;
  close(): void;
};

const CHUNK = Buffer.alloc(32 * 1024, 7);
const WINDOW = 1024 * 1024;

function pump(path: Path, total: number) {
  return new Promise<number>((resolve, reject) => {
    const started = performance.now();
    let sent = 0;
    let received = 0;
    const fill = () => {
      while (sent < total && sent - received < WINDOW) {
        path.send(CHUNK);
        sent += CHUNK.length;
      }
    };
    path.onData((n) => {
      received += n;
      if (received >= total) resolve(performance.now() - started);
      else fill();
    });
    path.onEnd((why) => reject(new Error(`${why} after ${received} of ${total} bytes`)));
    fill();
  });
}

async function directPath(port: number): Promise<Path> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((ok, fail) => {
    socket.once('connect', ok);
    socket.once('error', fail);
  });
  socket.setNoDelay(true);
  return {
    send: (b) => socket.write(b),
    onData: (cb) => socket.on('data', (d) => cb(d.length)),
    onEnd: (cb) => {
      socket.once('error', (e) => cb(`TCP error ${e.message}`));
      socket.once('close', () => cb('TCP closed'));
    },
    close: () => socket.destroy(),
  };
}

async function relayPath(url: string): Promise<Path> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((ok, fail) => {
    ws.once('open', ok);
    ws.once('error', fail);
  });
  return {
    send: (b) => ws.send(b),
    onData: (cb) => ws.on('message', (d: Buffer) => cb(d.length)),
    onEnd: (cb) => ws.once('close', (code, reason) => cb(`relay closed ${code} ${String(reason)}`)),
    close: () => ws.terminate(),
  };
}

process.on('message', async (cmd: Run) => {
  if (cmd.type !== 'run') return;
  try {
    const path = cmd.mode === 'direct' ? await directPath(cmd.port!) : await relayPath(cmd.url!);
    const ms = await pump(path, cmd.bytes).finally(() => path.close());
    process.send?.({ type: 'done', ms });
  } catch (err) {
    process.send?.({ type: 'failed', message: (err as Error).message });
  }
});
