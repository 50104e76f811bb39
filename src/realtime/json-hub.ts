import type { Bus } from '../core/bus/types';
import { AppError, describeError, wsCloseCodeFor } from '../core/errors';
import { authenticateToken, authenticateUpgrade, type PortalAuth, type PortalUser } from './portal/auth';
import { definePortalHandler, type PortalHandler, type PortalSocket } from './portal/handlers';
import { clientSchemas, parseFrame, validate } from './portal/messages';
import { CloseCode } from './protocol';
import { createSocketCap } from './socket-cap';
import type { RealtimeTransport } from './types';

// What /ws/portal and /ws/chat share: JSON frames `{type, ...}` dispatched to one handler per type
// (each with its zod schema, validated at the edge), authentication by the upgrade's credential or
// a first `{type:"auth", token}` message within a deadline, `ping` → `pong`, and refusals answered
// with an error frame while the connection stays open. Each hub supplies what happens when a
// socket is authenticated (`attach`) and closes (`detach`), and the shape of its error frame.
//
// Frames of one socket are handled one after another, in the order they arrived (two `message`
// frames sent back to back are stored and delivered in that order), with at most
// `maxPendingFrames` waiting: past that the client is told and the socket closed, so a client
// that sends faster than it is served cannot grow server memory. The sockets a user may hold are
// capped cluster-wide (socket-cap.ts); `detach` runs only for sockets that were attached.

export type HubHandler = PortalHandler;

export type JsonHub = {
  /** Adds (or replaces) the handler of a client message `type`. */
  on(type: string, handler: HubHandler): void;
  /** Runs when an authenticated socket closes (features drop their per-socket state). */
  onSocketClose(hook: (socket: PortalSocket, user: PortalUser) => void | Promise<void>): void;
  /** Stops the socket cap's refresh timer (after the transport closed its sockets). */
  stopTimers(): void;
};

export type JsonHubOptions = {
  transport: RealtimeTransport;
  pattern: string;
  authDeps: Parameters<typeof authenticateToken>[0];
  bus: Bus;
  log: { warn(obj: object, msg?: string): void };
  /** WS_MAX_SOCKETS_PER_USER, counted cluster-wide for this endpoint family. */
  maxSocketsPerUser: number;
  /** WS_MAX_PENDING_FRAMES: frames of one socket waiting to be handled. */
  maxPendingFrames: number;
  /** API keys reach the socket only when their scopes cover this router group. */
  scopeGroup: string;
  /** Sockets per user are capped per endpoint family: the family's key prefix. */
  limitPrefix: string;
  authTimeoutMs: number;
  /** Completes an authenticated socket that got its place under the cap (topics, `ready`). */
  attach(socket: PortalSocket, user: PortalUser): void | Promise<void>;
  /** An authenticated socket closed. */
  detach(socket: PortalSocket, user: PortalUser): void | Promise<void>;
  /** The frame that refuses a client frame. */
  errorFrame(message: string, refusal?: { status: number; request: string }): Record<string, unknown>;
};

type Conn = {
  user: PortalUser | null;
  authTimer: NodeJS.Timeout | null;
  /** The socket holds a place under the cap (released on close). */
  capped: boolean;
  /** `attach` ran (or started), so `detach` and the close hooks must run on close. */
  attached: boolean;
  /** The tail of this socket's frame queue; it never rejects. */
  queue: Promise<void>;
  pending: number;
};

export const TOO_MANY_PENDING = 'Too many pending messages';

export function createJsonHub(opts: JsonHubOptions): JsonHub {
  const { transport } = opts;
  const conns = new WeakMap<PortalSocket, Conn>();
  const handlers = new Map<string, HubHandler>();
  const closeHooks: Array<(socket: PortalSocket, user: PortalUser) => void | Promise<void>> = [];
  const sendError = (socket: PortalSocket, message: string, refusal?: { status: number; request: string }) =>
    socket.sendJson(opts.errorFrame(message, refusal));

  const cap = createSocketCap({
    bus: opts.bus,
    family: opts.pattern,
    max: opts.maxSocketsPerUser,
    log: opts.log,
  });

  async function complete(socket: PortalSocket, conn: Conn, user: PortalUser) {
    // Upgrades with a credential were also capped per node by the transport (a cheap 429).
    if (!(await cap.acquire(user.userId, socket.id))) {
      socket.close(CloseCode.RATE_LIMITED, 'Too many connections');
      return;
    }
    conn.capped = true;
    if (socket.closed) return;
    conn.user = user;
    conn.attached = true;
    await opts.attach(socket, user);
  }

  /**
   * Runs `task` after every earlier frame of this socket; skipped once the socket closed. The
   * returned promise rejects with what the task threw, for the transport to log.
   */
  function enqueue(socket: PortalSocket, conn: Conn, task: () => unknown): Promise<void> | undefined {
    if (conn.pending >= opts.maxPendingFrames) {
      sendError(socket, TOO_MANY_PENDING);
      socket.close(CloseCode.RATE_LIMITED, TOO_MANY_PENDING);
      return undefined;
    }
    conn.pending++;
    const run = conn.queue
      .then(async () => {
        if (!socket.closed) await task();
      })
      .finally(() => {
        conn.pending--;
      });
    conn.queue = run.catch(() => {});
    return run;
  }

  handlers.set(
    'auth',
    definePortalHandler({
      schema: clientSchemas.auth,
      requiresUser: false,
      async handle({ socket, user }, message) {
        const conn = conns.get(socket)!;
        // Frames are handled in order, so a second `auth` sees the outcome of the first.
        if (user) return void sendError(socket, 'Already authenticated');
        let authed: PortalUser;
        try {
          authed = await authenticateToken(opts.authDeps, message.token, socket.ip, opts.scopeGroup);
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          const { body } = describeError(err);
          socket.close(wsCloseCodeFor(body.status), body.error);
          return;
        }
        if (conn.authTimer) clearTimeout(conn.authTimer);
        conn.authTimer = null;
        if (!socket.closed) await complete(socket, conn, authed);
      },
    }) as HubHandler,
  );
  handlers.set(
    'ping',
    definePortalHandler({
      schema: clientSchemas.ping,
      requiresUser: false,
      handle: ({ send }) => void send({ type: 'pong' }),
    }) as HubHandler,
  );

  transport.route<PortalAuth>({
    pattern: opts.pattern,
    authenticate: (req) => authenticateUpgrade(opts.authDeps, req, opts.scopeGroup),
    limitKey: (auth) => (auth.user ? `${opts.limitPrefix}${auth.user.userId}` : null),

    onOpen(socket) {
      const conn: Conn = {
        user: null,
        authTimer: null,
        capped: false,
        attached: false,
        queue: Promise.resolve(),
        pending: 0,
      };
      conns.set(socket, conn);
      const user = socket.auth.user;
      if (user) return enqueue(socket, conn, () => complete(socket, conn, user));
      conn.authTimer = setTimeout(() => {
        if (!conn.user) socket.close(CloseCode.UNAUTHORIZED, 'Authentication required');
      }, opts.authTimeoutMs);
      conn.authTimer.unref();
    },

    onMessage(socket, data, isBinary) {
      const conn = conns.get(socket);
      if (!conn) return;
      // Parsed now (the transport's buffer is only valid during this call), handled in turn.
      const frame = parseFrame(data, isBinary, opts.pattern);
      return enqueue(socket, conn, () => handleFrame(socket, conn, frame));
    },

    onClose(socket) {
      const conn = conns.get(socket);
      if (!conn) return;
      if (conn.authTimer) clearTimeout(conn.authTimer);
      // After the frame in progress: a `join` that finishes after the drop would leave state behind.
      return conn.queue.then(async () => {
        const user = conn.user;
        if (conn.attached && user) {
          await Promise.all([opts.detach(socket, user), ...closeHooks.map((hook) => hook(socket, user))]);
        }
        if (conn.capped) await cap.release(socket.id);
      });
    },
  });

  async function handleFrame(socket: PortalSocket, conn: Conn, frame: ReturnType<typeof parseFrame>) {
    if (!frame.ok) return void sendError(socket, frame.message);
    const handler = handlers.get(frame.type);
    if (!handler) return void sendError(socket, `Unknown message type: ${frame.type}`);
    if (handler.requiresUser && !conn.user) return void sendError(socket, 'Authentication required');
    const checked = validate(handler.schema, frame.body);
    if (!checked.ok) return void sendError(socket, checked.message);
    try {
      await handler.handle(
        { socket, user: conn.user, send: (message) => socket.sendJson(message) },
        checked.value,
      );
    } catch (err) {
      // A refused action (an AppError) answers that frame; anything else is a bug for the transport.
      if (!(err instanceof AppError)) throw err;
      const { body } = describeError(err);
      sendError(socket, body.error, { status: body.status, request: frame.type });
    }
  }

  return {
    on(type, handler) {
      handlers.set(type, handler);
    },
    onSocketClose(hook) {
      closeHooks.push(hook);
    },
    stopTimers() {
      cap.close();
    },
  };
}
