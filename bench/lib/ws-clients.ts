import { WebSocket } from 'ws';

// A child process that holds many idle WebSocket connections for a benchmark, so the client's
// memory and CPU never count as the server's. Driven over IPC:
//   parent → {type:"open", urls:[...], concurrency} ; child → {type:"opened", opened, failed, ms}
//   parent → {type:"close"} ; child closes everything and exits.
type Command = { type: 'open'; urls: string[]; concurrency?: number } | { type: 'close' };

const sockets: WebSocket[] = [];

function openOne(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => {
      sockets.push(ws);
      resolve(true);
    });
    ws.once('error', () => resolve(false));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(false);
    });
  });
}

async function openAll(urls: string[], concurrency: number) {
  const started = performance.now();
  let next = 0;
  let opened = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, urls.length) }, async () => {
      while (next < urls.length) {
        const url = urls[next++]!;
        if (await openOne(url)) opened++;
        else failed++;
      }
    }),
  );
  process.send?.({ type: 'opened', opened, failed, ms: performance.now() - started });
}

process.on('message', (cmd: Command) => {
  if (cmd.type === 'open') void openAll(cmd.urls, cmd.concurrency ?? 100);
  if (cmd.type === 'close') {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
