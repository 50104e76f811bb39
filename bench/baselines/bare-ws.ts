import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

// Baseline for WebSocket benchmarks: a bare `ws` server with a naive broadcast loop, the same
// protocol as bare-uws.ts ("pub:<payload>" is sent to every client).
const http = createServer();
const wss = new WebSocketServer({ server: http, maxPayload: 64 * 1024 });
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    const text = isBinary ? '' : data.toString();
    if (!text.startsWith('pub:')) return;
    const payload = text.slice(4);
    for (const client of wss.clients) client.send(payload);
  });
});
http.listen(0, '127.0.0.1', () => {
  const { port } = http.address() as AddressInfo;
  console.log(JSON.stringify({ msg: 'baseline listening', url: `http://127.0.0.1:${port}` }));
});
process.on('SIGTERM', () => process.exit(0));
