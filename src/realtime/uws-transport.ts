import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import type * as Uws from '@trufflesuite/uws-js-unofficial';
import { createClientIpResolver, normalizeIp } from '../core/client-ip';
import { AppError } from '../core/errors';
import { CloseCode } from './protocol';
import { addHeader, type Refusal, type SocketDriver, type TransportSocket } from './socket-common';
import { type Admission, createTransportCore } from './transport-core';
import type { RealtimeTransport, TransportOptions, UpgradeClaim } from './types';
import { attachUpgradeBridge, BRIDGE_CLIENT_IP_HEADER, BRIDGE_SECRET_HEADER } from './upgrade-bridge';
import { CORK_ANCHOR_PATH, createCorkAnchor } from './uws-cork-anchor';

// The uWebSockets.js transport (DESIGN.md rule 6): uWS objects never leave this file. uWS has its
// own port; the public node port reaches it through upgrade-bridge.ts.

export type UwsModule = typeof Uws;
export type LoadedUws = { name: string; module: UwsModule };

/** DESIGN.md's resolution order: the operator's official build first, then the unofficial one. */
export const UWS_MODULE_NAMES = ['uWebSockets.js', '@trufflesuite/uws-js-unofficial'] as const;

const require = createRequire(import.meta.url);

export function loadUws(): { loaded: LoadedUws | null; failures: string[] } {
  const failures: string[] = [];
  for (const name of UWS_MODULE_NAMES) {
    try {
      const module = require(name) as UwsModule;
      // The unofficial package quietly substitutes a slow JS imitation when its binary does not load.
      if (typeof module.getParts !== 'function') {
        failures.push(
          `${name}: its native binary did not load for this Node.js (its JS fallback is not used)`,
        );
        continue;
      }
      return { loaded: { name, module }, failures };
    } catch (err) {
      failures.push(`${name}: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
    }
  }
  return { loaded: null, failures };
}

function requireUws(): LoadedUws {
  const { loaded, failures } = loadUws();
  if (!loaded) throw new Error(`No uWebSockets.js build loads here: ${failures.join('; ')}`);
  return loaded;
}

/** `admission` is null only for the cork anchor (uws-cork-anchor.ts), which no route sees. */
type UserData = { admission: Admission | null; socket: TransportSocket<unknown> | null };
type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  cb: (listenSocket: Uws.us_listen_socket | false) => void,
) => Uws.TemplatedApp;

/** Refuses to share the port silently: uWS otherwise sets SO_REUSEPORT. */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;
const decode = (buf: ArrayBuffer) => Buffer.from(buf).toString('utf8');
const loopbackFor = (host: string) =>
  host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;

export function createUwsTransport(opts: TransportOptions, loaded?: LoadedUws): RealtimeTransport {
  const uws: LoadedUws = loaded ?? requireUws();
  const { log } = opts;
  const core = createTransportCore(opts);
  const resolveIp = createClientIpResolver(opts.trustProxy);
  const secret = Buffer.from(randomBytes(32).toString('base64url'));
  const anchor = createCorkAnchor({ secretHeader: BRIDGE_SECRET_HEADER, secret: secret.toString(), log });
  const app = uws.module.App();
  let listenSocket: Uws.us_listen_socket | null = null;
  let port: number | null = null;
  let payloadCeiling = 0;

  const guard =
    <T extends unknown[]>(what: string, fn: (...args: T) => void) =>
    (...args: T) => {
      try {
        fn(...args);
      } catch (err) {
        log.error({ err, handler: what }, 'uWebSockets.js callback failed');
      }
    };

  function hasSecret(headers: Record<string, string>): boolean {
    const presented = Buffer.from(headers[BRIDGE_SECRET_HEADER] ?? '');
    return presented.length === secret.length && timingSafeEqual(presented, secret);
  }

  function clientIp(headers: Record<string, string>, remote: string): string {
    const bridged = hasSecret(headers);
    const claimed = headers[BRIDGE_CLIENT_IP_HEADER];
    delete headers[BRIDGE_SECRET_HEADER];
    delete headers[BRIDGE_CLIENT_IP_HEADER];
    return bridged && claimed ? normalizeIp(claimed) : resolveIp(remote, headers['x-forwarded-for']);
  }

  function respond(res: Uws.HttpResponse, aborted: () => boolean, refusal: Refusal) {
    if (aborted()) return;
    res.cork(() => {
      res.writeStatus(`${refusal.status} ${refusal.statusText}`);
      for (const [name, value] of Object.entries(refusal.headers)) res.writeHeader(name, value);
      res.end(refusal.body, true);
    });
  }

  function onUpgrade(res: Uws.HttpResponse, req: Uws.HttpRequest, context: Uws.us_socket_context_t) {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    try {
      copyAndAdmit(res, req, context, () => aborted);
    } catch (err) {
      respond(res, () => aborted, core.refusal(err, { path: '', ip: '' }));
    }
  }

  function copyAndAdmit(
    res: Uws.HttpResponse,
    req: Uws.HttpRequest,
    context: Uws.us_socket_context_t,
    isAborted: () => boolean,
  ) {
    // Everything is copied now: req is invalid once this callback returns.
    const path = req.getUrl();
    const query = new URLSearchParams(req.getQuery() ?? '');
    const headers: Record<string, string> = {};
    req.forEach((name, value) => {
      addHeader(headers, name, value);
    });
    const key = headers['sec-websocket-key'] ?? '';
    const protocol = (headers['sec-websocket-protocol'] ?? '').split(',')[0]?.trim() ?? '';
    const extensions = headers['sec-websocket-extensions'] ?? '';
    if (path === CORK_ANCHOR_PATH && key && hasSecret(headers)) {
      // Synchronous, inside uWS's own upgrade callback: the path the cork bug does not touch.
      res.upgrade<UserData>({ admission: null, socket: null }, key, protocol, extensions, context);
      return;
    }
    const ip = clientIp(headers, decode(res.getRemoteAddressAsText()));
    if (!key) {
      respond(res, isAborted, core.refusal(new AppError('BAD_REQUEST'), { path, ip }));
      return;
    }
    core.admit({ path, query, headers, ip }).then(
      (admission) => {
        if (isAborted()) {
          admission.release();
          return;
        }
        try {
          anchor.corkUpgrade(res, () =>
            res.upgrade<UserData>({ admission, socket: null }, key, protocol, extensions, context),
          );
        } catch (err) {
          admission.release();
          log.error({ err, path }, 'uWebSockets.js upgrade failed');
        }
      },
      (err: unknown) => respond(res, isAborted, core.refusal(err, { path, ip })),
    );
  }

  function driverFor(ws: Uws.WebSocket<UserData>): SocketDriver {
    return {
      send: (data, isBinary) => {
        let result = 0;
        ws.cork(() => {
          result = ws.send(data, isBinary);
        });
        return result !== 2; // 2: dropped by uWS's own backpressure limit
      },
      bufferedAmount: () => ws.getBufferedAmount(),
      end: (code, reason) => ws.cork(() => ws.end(code, reason)),
      terminate: () => ws.close(),
      subscribe: (topic) => ws.subscribe(topic),
      unsubscribe: (topic) => ws.unsubscribe(topic),
    };
  }

  function install() {
    const largest = Math.max(opts.maxPayloadBytes, ...core.routes().map(core.maxPayloadFor));
    // uWS cuts an oversize frame with a bare TCP close (1006). Admitting frames up to twice the
    // largest limit lets the core answer ordinary oversize messages with a proper 1009.
    payloadCeiling = largest * 2;
    app.ws<UserData>('/*', {
      maxPayloadLength: payloadCeiling,
      maxBackpressure: opts.maxBackpressureBytes,
      // Native publish() bypasses TransportSocket.send, so uWS itself drops slow subscribers there.
      closeOnBackpressureLimit: 1,
      idleTimeout: opts.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      compression: uws.module.DISABLED,
      upgrade: guard('upgrade', onUpgrade),
      open: guard('open', (ws) => {
        const data = ws.getUserData();
        if (!data.admission) return anchor.opened(ws);
        data.socket = core.open(data.admission, driverFor(ws));
      }),
      message: guard('message', (ws, message, isBinary) => {
        const socket = ws.getUserData().socket;
        if (!socket) return;
        // uWS reuses `message` after this callback, so both branches copy.
        const data = isBinary ? Buffer.from(new Uint8Array(message)) : decode(message);
        core.message(socket, data, isBinary, message.byteLength);
      }),
      drain: guard('drain', (ws) => ws.getUserData().socket?.drained()),
      close: guard('close', (ws, code, message) => {
        const { socket, admission } = ws.getUserData();
        if (!admission) return anchor.closed(ws);
        const reason = decode(message);
        if (!socket) admission.release();
        else if (code === 1006 && reason === 'Received too big message') {
          core.closed(socket, CloseCode.MESSAGE_TOO_BIG, reason);
        } else core.closed(socket, code, reason);
      }),
    });
    app.any(
      '/*',
      guard('http', (res, req) => {
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        const path = req.getUrl();
        const ip = decode(res.getRemoteAddressAsText());
        respond(res, () => aborted, core.refusal(new AppError('NOT_FOUND'), { path, ip }));
      }),
    );
  }

  return {
    kind: 'uws',
    route(route) {
      core.route(route);
      const limit = core.maxPayloadFor(route);
      if (payloadCeiling > 0 && limit * 2 > payloadCeiling) {
        log.warn(
          { route: route.pattern, limit, ceiling: payloadCeiling },
          'route added after listen(): payload limit capped',
        );
      }
    },
    publish(topic, data, isBinary = typeof data !== 'string') {
      app.publish(topic, data, isBinary);
    },
    listen() {
      if (port !== null) return Promise.resolve(port);
      if (!core.accepting()) return Promise.reject(new Error('uWebSockets.js transport was closed'));
      if (payloadCeiling === 0) install();
      return new Promise((resolve, reject) => {
        const listen = app.listen as unknown as ListenWithOptions;
        listen.call(app, opts.host, opts.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
          if (!socket) {
            reject(new Error(`uWebSockets.js (${uws.name}) could not listen on ${opts.host}:${opts.port}`));
            return;
          }
          listenSocket = socket;
          port = uws.module.us_socket_local_port(socket as unknown as Uws.us_socket);
          log.info(
            { transport: 'uws', module: uws.name, host: opts.host, port },
            `realtime transport uWebSockets.js (${uws.name}) listening on ${opts.host}:${port}`,
          );
          anchor.start(loopbackFor(opts.host), port);
          resolve(port);
        });
      });
    },
    attach(server: HttpServer, claim?: UpgradeClaim) {
      attachUpgradeBridge(
        server,
        {
          target: () => (port === null ? null : { host: loopbackFor(opts.host), port }),
          secret: secret.toString(),
          resolveIp,
          log,
        },
        claim,
      );
    },
    connectionCount: () => core.connectionCount(),
    async closeAll(code = CloseCode.GOING_AWAY, reason = 'Server shutting down') {
      anchor.stop();
      if (listenSocket) uws.module.us_listen_socket_close(listenSocket);
      listenSocket = null;
      port = null;
      await core.closeAll(code, reason);
    },
  };
}
