import { randomUUID } from 'node:crypto';
import type { Bus } from '../../core/bus/types';
import type { ChatDeps } from '../../services/chat/types';
import { chatOnlineSet, DM_EVENTS_TOPIC, type DmBusMessage } from '../../services/dm/events';
import { listConversations } from '../../services/dm/list';
import { announceChatPresence } from '../../services/webhooks/presence-events';
import type { PortalUser } from '../portal/auth';
import type { PortalSocket } from '../portal/handlers';
import type { RealtimeTransport } from '../types';
import { ChatTiming } from './protocol';

// DM frames target users: every authenticated /ws/chat socket subscribes to its user's transport
// topic at attach time, and each node turns the Bus's `dm.events` into one transport publish per
// user (a no-op on nodes that hold none of their sockets). The same attach/detach keeps the
// per-user presence set `chat-online:<id>` (members: node ids), from which the `user.connected` /
// `user.disconnected` webhook events tell a user's first and last /ws/chat socket in the cluster.
// (Who is online at all, for DM notifications and statistics, is the `online-users` set.)

/** Transport topic of one user's /ws/chat sockets on this node. */
export const chatUserTopic = (userId: number) => `chat:user:${userId}`;

type Log = { warn(obj: object, msg?: string): void };

export async function createDmDelivery(opts: {
  transport: RealtimeTransport;
  bus: Bus;
  deps: ChatDeps;
  log: Log;
}) {
  const { transport, bus, deps, log } = opts;
  const nodeId = randomUUID();
  /** user id → sockets this node holds. */
  const local = new Map<number, Set<PortalSocket>>();

  const add = (userId: number) =>
    bus
      .presenceAdd(chatOnlineSet(userId), nodeId, ChatTiming.PRESENCE_TTL_MS)
      .catch((err: unknown) => log.warn({ err, user_id: userId }, 'chat presence add failed'));

  const timer = setInterval(() => {
    for (const userId of local.keys()) void add(userId);
  }, ChatTiming.PRESENCE_REFRESH_MS);
  timer.unref();

  const unsubscribe = await bus.subscribe(DM_EVENTS_TOPIC, (raw) => {
    const { user_ids, frame } = raw as DmBusMessage;
    const data = JSON.stringify(frame);
    for (const userId of user_ids) if (local.has(userId)) transport.publish(chatUserTopic(userId), data);
  });

  return {
    /**
     * Called from the hub's attach, after `ready`: the socket receives its user's DM frames, and
     * gets `dm_conversations_list` (seed 002: "on connect or group creation").
     */
    async attach(socket: PortalSocket, user: PortalUser) {
      socket.subscribe(chatUserTopic(user.userId));
      let mine = local.get(user.userId);
      if (!mine) {
        mine = new Set();
        local.set(user.userId, mine);
      }
      mine.add(socket);
      if (mine.size === 1) {
        await add(user.userId);
        await announceChatPresence(deps, user, 'connected');
      }
      try {
        const list = await listConversations(deps, user.userId);
        socket.sendJson({ type: 'dm_conversations_list', ...list });
      } catch (err) {
        log.warn({ err, user_id: user.userId }, 'dm conversations list not sent');
      }
    },

    /** Sockets closed without an attach (refused by the cap) are not counted. */
    async detach(socket: PortalSocket, user: PortalUser) {
      const mine = local.get(user.userId);
      if (!mine?.delete(socket) || mine.size > 0) return;
      local.delete(user.userId);
      await bus
        .presenceRemove(chatOnlineSet(user.userId), nodeId)
        .catch((err: unknown) => log.warn({ err, user_id: user.userId }, 'chat presence remove failed'));
      await announceChatPresence(deps, user, 'disconnected');
    },

    async close() {
      clearInterval(timer);
      await unsubscribe().catch(() => {});
    },
  };
}

export type DmDelivery = Awaited<ReturnType<typeof createDmDelivery>>;
