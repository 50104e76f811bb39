import { AppError } from '../core/errors';
import { CloseCode } from './protocol';
import { createRouteMatcher } from './route-match';
import { buildRefusal, KeyCounter, type Refusal, type SocketDriver, TransportSocket } from './socket-common';
import type { TransportOptions, UpgradeRequest, WsRoute } from './types';

// The transport-independent half of a RealtimeTransport: routing, authentication, the per-key cap,
// message rates, hub calls that can never crash the process, bookkeeping and shutdown.

type AnyRoute = WsRoute<unknown>;
type AnySocket = TransportSocket<unknown>;

/** A route's authenticate accepted the upgrade; `release` frees its per-key slot if the upgrade dies. */
export type Admission = { route: AnyRoute; auth: unknown; req: UpgradeRequest; release: () => void };

export type TransportCore = ReturnType<typeof createTransportCore>;

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

export function createTransportCore(opts: TransportOptions) {
  const { log } = opts;
  const matcher = createRouteMatcher<AnyRoute>();
  const sockets = new Map<AnySocket, Admission>();
  const keys = new KeyCounter();
  let shutdown: { code: number; reason: string } | null = null;
  let emptyWaiters: Array<() => void> = [];

  const maxPayloadFor = (route: AnyRoute) => route.maxPayloadBytes ?? opts.maxPayloadBytes;

  /** Hub code runs here only: a throw or a rejected promise is logged and costs that socket, nothing more. */
  function callHub(socket: AnySocket, handler: 'onOpen' | 'onMessage' | 'onClose', fn: () => unknown): void {
    const fail = (err: unknown) => {
      log.error({ err, handler, route: socket.route, socket_id: socket.id }, 'websocket handler failed');
      if (handler !== 'onClose') socket.close(CloseCode.INTERNAL, 'Internal server error');
    };
    try {
      const result = fn();
      if (isThenable(result)) result.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  }

  function notifyIfEmpty() {
    if (sockets.size > 0) return;
    const waiters = emptyWaiters;
    emptyWaiters = [];
    for (const w of waiters) w();
  }

  function waitEmpty(ms: number): Promise<void> {
    if (sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      emptyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  const core = {
    route(route: AnyRoute) {
      matcher.add(route.pattern, route);
    },
    routes: () => matcher.values(),
    maxPayloadFor,
    accepting: () => shutdown === null,
    connectionCount: () => sockets.size,

    /** Throws an AppError (or whatever authenticate threw) to refuse; see `refusal`. */
    async admit(req: Omit<UpgradeRequest, 'params'>): Promise<Admission> {
      if (shutdown) throw new AppError('SERVICE_UNAVAILABLE', 'Server is shutting down');
      const match = matcher.match(req.path);
      if (!match) throw new AppError('NOT_FOUND');
      const full: UpgradeRequest = { ...req, params: match.params };
      const route = match.value;
      const auth = await route.authenticate(full);
      if (shutdown) throw new AppError('SERVICE_UNAVAILABLE', 'Server is shutting down');
      const key = route.limitKey?.(auth) ?? null;
      let release = () => {};
      if (key !== null) {
        const acquired = keys.tryAcquire(`${route.pattern}\n${key}`, opts.maxSocketsPerKey);
        if (!acquired) throw new AppError('TOO_MANY_REQUESTS');
        release = acquired;
      }
      return { route, auth, req: full, release };
    },

    refusal(err: unknown, req: { path: string; ip: string }): Refusal {
      return buildRefusal(err, log, { path: req.path, ip: req.ip });
    },

    open(admission: Admission, driver: SocketDriver): AnySocket {
      const { route, auth, req } = admission;
      const socket = new TransportSocket(
        route,
        auth,
        req.ip,
        req.params,
        req.query,
        driver,
        opts.maxBackpressureBytes,
        route.messagesPerSecond ?? opts.messagesPerSecond,
      );
      sockets.set(socket, admission);
      if (route.onOpen) callHub(socket, 'onOpen', () => route.onOpen?.(socket));
      // closeAll may have run while this upgrade was being authenticated.
      if (shutdown) socket.close(shutdown.code, shutdown.reason);
      return socket;
    },

    message(socket: AnySocket, data: string | Buffer, isBinary: boolean, byteLength: number) {
      if (socket.closed) return;
      if (!socket.bucket.take()) {
        socket.close(CloseCode.RATE_LIMITED, 'Too many messages');
        return;
      }
      if (byteLength > maxPayloadFor(socket.handlers)) {
        socket.close(CloseCode.MESSAGE_TOO_BIG, 'Message too big');
        return;
      }
      callHub(socket, 'onMessage', () => socket.handlers.onMessage(socket, data, isBinary));
    },

    /** The connection is gone (any cause). Idempotent. */
    closed(socket: AnySocket, peerCode: number, peerReason: string) {
      const admission = sockets.get(socket);
      if (!admission) return;
      sockets.delete(socket);
      socket.markEnded();
      admission.release();
      const { code, reason } = socket.closeRequest ?? { code: peerCode, reason: peerReason };
      const onClose = socket.handlers.onClose;
      if (onClose) callHub(socket, 'onClose', () => onClose(socket, code, reason));
      notifyIfEmpty();
    },

    /** Stops admitting, asks every socket to close, then cuts the ones that do not finish in time. */
    async closeAll(code: number, reason: string, graceMs = 2000) {
      shutdown = { code, reason };
      for (const socket of [...sockets.keys()]) socket.close(code, reason);
      await waitEmpty(graceMs);
      for (const socket of [...sockets.keys()]) socket.terminate();
      await waitEmpty(500);
      // The count must reach zero for shutdown to finish even if a driver never reports the close.
      if (sockets.size > 0)
        log.warn({ open: sockets.size }, 'websocket sockets did not report close; forgetting them');
      for (const socket of [...sockets.keys()]) core.closed(socket, code, reason);
    },
  };
  return core;
}
