import WebSocket from 'ws';

// A workaround for a uWebSockets.js bug (uNetworking/uWebSockets#1928, fixed by PR #1929 after
// the 20.30 build this project can install): `res.cork(() => res.upgrade(...))` after an await
// (every upgrade here waits for authentication) can close the new socket with 1006 right after
// `open`. HttpResponse::cork() reads the HTTP state of a socket that upgrade() just reallocated
// in place, and now and then the freed bytes say "Connection: close". Seen here about once in
// 1,500 upgrades. An upgrade outside cork works but prints a warning to stderr every time.
//
// The bug needs cork() to start from an uncorked loop. So the upgrade runs while another socket
// is corked: this module keeps one WebSocket of the server's own (a loopback client it opens to
// itself on a path that needs the transport's secret) and calls `res.cork(upgrade)` inside the
// anchor's `cork()`. uWS then treats the response as "cannot cork, just run the handler", writes
// the 101 directly, and the faulty post-upgrade check never runs.

/** Not under /ws/, so the public port's bridge never forwards it. */
export const CORK_ANCHOR_PATH = '/__portal/cork-anchor';

const RECONNECT_MS = 1000;

type Corkable = { cork(cb: () => void): unknown };
type Log = { warn(obj: object, msg?: string): void };

export function createCorkAnchor(opts: { secretHeader: string; secret: string; log: Log }) {
  let server: Corkable | null = null;
  let client: WebSocket | null = null;
  let target: string | null = null;
  let timer: NodeJS.Timeout | null = null;

  function connect() {
    if (!target) return;
    const ws = new WebSocket(target, { headers: { [opts.secretHeader]: opts.secret } });
    client = ws;
    ws.on('error', () => {});
    ws.on('close', () => {
      if (client !== ws || !target) return;
      client = null;
      timer = setTimeout(connect, RECONNECT_MS);
      timer.unref();
    });
  }

  return {
    /** Opens the anchor once the transport listens (loopback host and port of uWS). */
    start(host: string, port: number) {
      target = `ws://${host.includes(':') ? `[${host}]` : host}:${port}${CORK_ANCHOR_PATH}`;
      connect();
    },
    stop() {
      target = null;
      if (timer) clearTimeout(timer);
      client?.terminate();
      client = null;
      server = null;
    },
    /** The server side of the anchor opened (the transport checked the secret). */
    opened(ws: Corkable) {
      server = ws;
    },
    closed(ws: Corkable) {
      if (server === ws) server = null;
    },
    /** Runs `upgrade` corked on `res`, inside the anchor's cork when the anchor is up. */
    corkUpgrade(res: Corkable, upgrade: () => void) {
      const anchor = server;
      if (!anchor) {
        res.cork(upgrade);
        return;
      }
      let ran = false;
      try {
        anchor.cork(() => {
          ran = true;
          res.cork(upgrade);
        });
      } catch (err) {
        if (ran) throw err;
        // The anchor closed without its close callback yet: fall back to the plain path.
        opts.log.warn({ err }, 'websocket cork anchor unusable; upgrading without it');
        server = null;
        res.cork(upgrade);
      }
    },
  };
}
