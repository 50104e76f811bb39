import { AppError, describeError, wsCloseCodeFor } from '../core/errors';
import { authenticateToken, authenticateUpgrade, type PortalAuth, type PortalUser } from './portal/auth';
import { definePortalHandler, type PortalHandler, type PortalSocket } from './portal/handlers';
import { clientSchemas, parseFrame, validate } from './portal/messages';
import { CloseCode } from './protocol';
import type { RealtimeTransport } from './types';

// What /ws/portal and /ws/chat share: JSON frames `{type, ...}` dispatched to one handler per type
// (each with its zod schema, validated at the edge), authentication by the upgrade's credential or
// a first `{type:"auth", token}` message within a deadline, `ping` → `pong`, and refusals answered
// with an error frame while the connection stays open. Each hub supplies what happens when a
// socket is authenticated (`attach`) and closes (`detach`), and the shape of its error frame.

export type HubHandler = PortalHandler;

export type JsonHub = {
  /** Adds (or replaces) the handler of a client message `type`. */
  on(type: string, handler: HubHandler): void;
  /** Runs when an authenticated socket closes (features drop their per-socket state). */
  onSocketClose(hook: (socket: PortalSocket, user: PortalUser) => void | Promise<void>): void;
};

export type JsonHubOptions = {
  transport: RealtimeTransport;
  pattern: string;
  authDeps: Parameters<typeof authenticateToken>[0];
  /** API keys reach the socket only when their scopes cover this router group. */
  scopeGroup: string;
  /** Sockets per user are capped per endpoint family: the family's key prefix. */
  limitPrefix: string;
  authTimeoutMs: number;
  /** Completes an authenticated socket (cap, topics, `ready`); may close it instead. */
  attach(socket: PortalSocket, user: PortalUser): void | Promise<void>;
  /** An authenticated socket closed. */
  detach(socket: PortalSocket, user: PortalUser): void | Promise<void>;
  /** The frame that refuses a client frame. */
  errorFrame(message: string, refusal?: { status: number; request: string }): Record<string, unknown>;
};

type Conn = { user: PortalUser | null; authTimer: NodeJS.Timeout | null; authenticating: boolean };

export function createJsonHub(opts: JsonHubOptions): JsonHub {
  const { transport } = opts;
  const conns = new WeakMap<PortalSocket, Conn>();
  const handlers = new Map<string, HubHandler>();
  const closeHooks: Array<(socket: PortalSocket, user: PortalUser) => void | Promise<void>> = [];
  const sendError = (socket: PortalSocket, message: string, refusal?: { status: number; request: string }) =>
    socket.sendJson(opts.errorFrame(message, refusal));

  async function complete(socket: PortalSocket, conn: Conn, user: PortalUser) {
    conn.user = user;
    await opts.attach(socket, user);
  }

  handlers.set(
    'auth',
    definePortalHandler({
      schema: clientSchemas.auth,
      requiresUser: false,
      async handle({ socket, user }, message) {
        const conn = conns.get(socket)!;
        if (user) return void sendError(socket, 'Already authenticated');
        if (conn.authenticating) return void sendError(socket, 'Authentication in progress');
        conn.authenticating = true;
        let authed: PortalUser;
        try {
          authed = await authenticateToken(opts.authDeps, message.token, socket.ip, opts.scopeGroup);
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          const { body } = describeError(err);
          socket.close(wsCloseCodeFor(body.status), body.error);
          return;
        } finally {
          conn.authenticating = false;
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
      const conn: Conn = { user: null, authTimer: null, authenticating: false };
      conns.set(socket, conn);
      if (socket.auth.user) return complete(socket, conn, socket.auth.user);
      conn.authTimer = setTimeout(() => {
        if (!conn.user) socket.close(CloseCode.UNAUTHORIZED, 'Authentication required');
      }, opts.authTimeoutMs);
      conn.authTimer.unref();
    },

    onMessage(socket, data, isBinary) {
      const conn = conns.get(socket);
      if (!conn) return;
      const frame = parseFrame(data, isBinary, opts.pattern);
      if (!frame.ok) return void sendError(socket, frame.message);
      const handler = handlers.get(frame.type);
      if (!handler) return void sendError(socket, `Unknown message type: ${frame.type}`);
      if (handler.requiresUser && !conn.user) return void sendError(socket, 'Authentication required');
      const checked = validate(handler.schema, frame.body);
      if (!checked.ok) return void sendError(socket, checked.message);
      // A refused action (an AppError) answers that frame; anything else is a bug for the transport.
      const refuse = (err: unknown) => {
        if (!(err instanceof AppError)) throw err;
        const { body } = describeError(err);
        sendError(socket, body.error, { status: body.status, request: frame.type });
      };
      try {
        const result = handler.handle(
          { socket, user: conn.user, send: (message) => socket.sendJson(message) },
          checked.value,
        );
        return result instanceof Promise ? result.catch(refuse) : result;
      } catch (err) {
        return refuse(err);
      }
    },

    onClose(socket) {
      const conn = conns.get(socket);
      if (!conn) return;
      if (conn.authTimer) clearTimeout(conn.authTimer);
      if (!conn.user) return;
      const user = conn.user;
      return Promise.all([opts.detach(socket, user), ...closeHooks.map((hook) => hook(socket, user))]).then(
        () => {},
      );
    },
  });

  return {
    on(type, handler) {
      handlers.set(type, handler);
    },
    onSocketClose(hook) {
      closeHooks.push(hook);
    },
  };
}
