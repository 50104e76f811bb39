import { AppError, describeError, wsCloseCodeFor } from '../../core/errors';
import type { AppDeps } from '../../deps';
import { countUnread } from '../../services/notifications/inbox';
import { NOTIFY_TOPIC, type NotifyBusMessage } from '../../services/notifications/types';
import { CloseCode } from '../protocol';
import type { RealtimeTransport } from '../types';
import { authenticateToken, authenticateUpgrade, type PortalAuth, type PortalUser } from './auth';
import {
  baseHandlers,
  definePortalHandler,
  type PortalHandler,
  type PortalHandlerContext,
  type PortalSocket,
} from './handlers';
import { clientSchemas, parseFrame, validate } from './messages';
import { createLocalPresence } from './presence';
import {
  PORTAL_PATH,
  PortalClientType,
  type PortalServerMessage,
  PortalServerType,
  PortalTiming,
  PortalTopic,
  userTopic,
} from './protocol';

// The /ws/portal hub (API.md §9): authenticates sockets, joins them to their user's topic and the
// broadcast topic, keeps the `online-users` presence set, and turns Bus notifications into frames.
// Fan-out: one Bus subscription per node; the transport delivers to its own subscribed sockets.

export type PortalHub = {
  /** Adds (or replaces) the handler of a client message `type`. */
  on<S extends PortalHandler>(type: string, handler: S): void;
  /** Stops Bus subscriptions and timers (after the transport closed its sockets). */
  close(): Promise<void>;
};

type Conn = { user: PortalUser | null; authTimer: NodeJS.Timeout | null; authenticating: boolean };

export async function registerPortalHub(opts: {
  transport: RealtimeTransport;
  deps: AppDeps;
  /** First-message auth deadline (tests shorten it). */
  authTimeoutMs?: number;
}): Promise<PortalHub> {
  const { transport, deps } = opts;
  const log = deps.log.child({ component: 'ws-portal' });
  const authDeps = { db: deps.database.db, secretKey: deps.secretKey };
  const authTimeoutMs = opts.authTimeoutMs ?? PortalTiming.AUTH_TIMEOUT_MS;
  const maxSockets = deps.env.WS_MAX_SOCKETS_PER_USER;
  const conns = new WeakMap<PortalSocket, Conn>();
  const presence = await createLocalPresence({ bus: deps.bus, log });

  const send = (socket: PortalSocket, message: PortalServerMessage | Record<string, unknown>) =>
    socket.sendJson(message);
  const sendError = (socket: PortalSocket, message: string) =>
    send(socket, { type: PortalServerType.ERROR, message });

  /** Completes an authenticated socket: cap, topics, presence, then `ready`. */
  async function attach(socket: PortalSocket, conn: Conn, user: PortalUser) {
    // Upgrades with a credential are capped by the transport; this also covers first-message auth.
    if (presence.socketsOf(user.userId) >= maxSockets) {
      socket.close(CloseCode.RATE_LIMITED, 'Too many connections');
      return;
    }
    conn.user = user;
    socket.subscribe(userTopic(user.userId));
    socket.subscribe(PortalTopic.ALL);
    await presence.join(user.userId, socket);
    const unread = await countUnread(deps.database.db, user.userId);
    send(socket, {
      type: PortalServerType.READY,
      user: { id: user.userId, username: user.username },
      unread_count: unread,
    });
  }

  const authHandler = definePortalHandler({
    schema: clientSchemas[PortalClientType.AUTH],
    requiresUser: false,
    async handle({ socket, user }, message) {
      const conn = conns.get(socket)!;
      if (user) return void sendError(socket, 'Already authenticated');
      if (conn.authenticating) return void sendError(socket, 'Authentication in progress');
      conn.authenticating = true;
      let authed: PortalUser;
      try {
        authed = await authenticateToken(authDeps, message.token, socket.ip);
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
      if (socket.closed) return;
      await attach(socket, conn, authed);
    },
  });

  const handlers = new Map<string, PortalHandler>(Object.entries(baseHandlers));
  handlers.set(PortalClientType.AUTH, authHandler as PortalHandler);

  const unsubscribeNotify = await deps.bus.subscribe(NOTIFY_TOPIC, (raw) => {
    const message = raw as NotifyBusMessage;
    const frame = JSON.stringify({ type: PortalServerType.NOTIFICATION, notification: message.notification });
    if (message.kind === 'all') {
      transport.publish(PortalTopic.ALL, frame);
      return;
    }
    for (const userId of message.user_ids) {
      if (presence.has(userId)) transport.publish(userTopic(userId), frame);
    }
  });

  transport.route<PortalAuth>({
    pattern: PORTAL_PATH,
    authenticate: (req) => authenticateUpgrade(authDeps, req),
    limitKey: (auth) => (auth.user ? String(auth.user.userId) : null),

    onOpen(socket) {
      const conn: Conn = { user: null, authTimer: null, authenticating: false };
      conns.set(socket, conn);
      if (socket.auth.user) return attach(socket, conn, socket.auth.user);
      conn.authTimer = setTimeout(() => {
        if (!conn.user) socket.close(CloseCode.UNAUTHORIZED, 'Authentication required');
      }, authTimeoutMs);
      conn.authTimer.unref();
    },

    onMessage(socket, data, isBinary) {
      const conn = conns.get(socket);
      if (!conn) return;
      const frame = parseFrame(data, isBinary);
      if (!frame.ok) return void sendError(socket, frame.message);
      const handler = handlers.get(frame.type);
      if (!handler) return void sendError(socket, `Unknown message type: ${frame.type}`);
      if (handler.requiresUser && !conn.user) return void sendError(socket, 'Authentication required');
      const checked = validate(handler.schema, frame.body);
      if (!checked.ok) return void sendError(socket, checked.message);
      const ctx: PortalHandlerContext = {
        socket,
        user: conn.user,
        send: (message) => send(socket, message),
      };
      return handler.handle(ctx, checked.value);
    },

    onClose(socket) {
      const conn = conns.get(socket);
      if (!conn) return;
      if (conn.authTimer) clearTimeout(conn.authTimer);
      if (conn.user) return presence.leave(conn.user.userId, socket);
    },
  });

  log.info({ path: PORTAL_PATH }, 'portal hub registered');
  return {
    on(type, handler) {
      handlers.set(type, handler);
    },
    async close() {
      await unsubscribeNotify().catch(() => {});
      await presence.close();
    },
  };
}
