import { createRequire } from 'node:module';

// Baseline for WebSocket benchmarks: a bare uWebSockets.js server with native pub/sub and no
// authentication, rate limits or hubs. Every socket joins topic "all"; a text frame "pub:<payload>"
// is published to it, anything else is ignored.
type Uws = typeof import('@trufflesuite/uws-js-unofficial');
const uws = createRequire(import.meta.url)('@trufflesuite/uws-js-unofficial') as Uws;

const app = uws.App().ws('/*', {
  maxPayloadLength: 64 * 1024,
  idleTimeout: 120,
  maxBackpressure: 64 * 1024 * 1024,
  open: (ws) => {
    ws.subscribe('all');
  },
  message: (_ws, message) => {
    const text = Buffer.from(message).toString('utf8');
    if (text.startsWith('pub:')) app.publish('all', text.slice(4), false);
  },
});
app.listen('127.0.0.1', 0, (token) => {
  if (!token) process.exit(1);
  const port = uws.us_socket_local_port(token);
  console.log(JSON.stringify({ msg: 'baseline listening', url: `http://127.0.0.1:${port}` }));
  process.on('SIGTERM', () => {
    uws.us_listen_socket_close(token);
    process.exit(0);
  });
});
