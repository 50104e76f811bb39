import type { AppDeps } from '../../deps';
import { countUnread } from '../../services/notifications/inbox';
import { NOTIFY_TOPIC, type NotifyBusMessage } from '../../services/notifications/types';
import { USER_EVENTS_TOPIC, type UserBusMessage } from '../../services/rooms/events';
import { createJsonHub, type JsonHub } from '../json-hub';
import type { RealtimeTransport } from '../types';
import { createLocalPresence } from './presence';
import {
  PORTAL_PATH,
  type PortalServerMessage,
  PortalServerType,
  PortalTiming,
  PortalTopic,
  userTopic,
} from './protocol';
import { registerRoomHandlers } from './rooms';

// The /ws/portal hub (API.md §9): authenticates sockets, joins them to their user's topic and the
// broadcast topic, keeps the `online-users` presence set, and turns Bus notifications into frames.
// Fan-out: one Bus subscription per node; the transport delivers to its own subscribed sockets.

export type PortalHub = JsonHub & {
  /** Stops Bus subscriptions and timers (after the transport closed its sockets). */
  close(): Promise<void>;
};

export async function registerPortalHub(opts: {
  transport: RealtimeTransport;
  deps: AppDeps;
  /** First-message auth deadline (tests shorten it). */
  authTimeoutMs?: number;
}): Promise<PortalHub> {
  const { transport, deps } = opts;
  const log = deps.log.child({ component: 'ws-portal' });
  const presence = await createLocalPresence({ bus: deps.bus, log });

  const core = createJsonHub({
    transport,
    pattern: PORTAL_PATH,
    authDeps: { db: deps.database.db, secretKey: deps.secretKey, credentialCache: deps.credentialCache },
    bus: deps.bus,
    log,
    maxSocketsPerUser: deps.env.WS_MAX_SOCKETS_PER_USER,
    maxPendingFrames: deps.env.WS_MAX_PENDING_FRAMES,
    scopeGroup: 'notifications',
    limitPrefix: '',
    authTimeoutMs: opts.authTimeoutMs ?? PortalTiming.AUTH_TIMEOUT_MS,
    /** Topics, presence, then `ready` (the cap was checked by the hub core). */
    async attach(socket, user) {
      socket.subscribe(userTopic(user.userId));
      socket.subscribe(PortalTopic.ALL);
      await presence.join(user.userId, socket);
      const unread = await countUnread(deps.database.db, user.userId);
      socket.sendJson({
        type: PortalServerType.READY,
        user: { id: user.userId, username: user.username },
        unread_count: unread,
      } satisfies PortalServerMessage);
    },
    detach: (socket, user) => presence.leave(user.userId, socket),
    errorFrame: (message, refusal) => ({
      type: PortalServerType.ERROR,
      message,
      ...(refusal && { status: refusal.status, request: refusal.request }),
    }),
  });

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

  const unsubscribeUserEvents = await deps.bus.subscribe(USER_EVENTS_TOPIC, (raw) => {
    const message = raw as UserBusMessage;
    const frame = JSON.stringify(message.event);
    for (const userId of message.user_ids) {
      if (presence.has(userId)) transport.publish(userTopic(userId), frame);
    }
  });

  const hub: PortalHub = {
    ...core,
    async close() {
      await roomHandlers.close();
      core.stopTimers();
      await unsubscribeNotify().catch(() => {});
      await unsubscribeUserEvents().catch(() => {});
      await presence.close();
    },
  };
  const roomHandlers = await registerRoomHandlers({ hub, transport, deps });
  log.info({ path: PORTAL_PATH }, 'portal hub registered');
  return hub;
}
