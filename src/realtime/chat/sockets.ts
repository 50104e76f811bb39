import { eq } from 'drizzle-orm';
import { channelMembers } from '../../db/schema';
import { isAdmin } from '../../services/chat/access';
import { type ChatBusMessage, publishChatEvent } from '../../services/chat/events';
import { joinedView } from '../../services/chat/people';
import type { ChatDeps } from '../../services/chat/types';
import type { PortalUser } from '../portal/auth';
import type { PortalSocket } from '../portal/handlers';
import type { RealtimeTransport } from '../types';
import type { ChannelPresence } from './presence';
import { ALL_TOPIC, ChatServerType, channelTopic, MAX_JOINED_CHANNELS } from './protocol';

// The channels each socket on this node joined (by id, with the channel's current name), and
// delivery of Bus chat events to them. Frames
// that are the same for everyone go through the transport's topic fan-out; frames that differ per
// viewer (anonymous authors, blocked authors, the actor's own typing) go socket by socket.

const JOINED_KEY = 'chatChannels';

/** The channel a socket joined last (the default room of `voice_join`). */
export const lastJoinedChannel = (socket: PortalSocket): string | undefined => {
  const joined = socket.state[JOINED_KEY] as Map<number, string> | undefined;
  return joined ? [...joined.values()].at(-1) : undefined;
};

export function createChatSockets(opts: {
  transport: RealtimeTransport;
  presence: ChannelPresence;
  deps: ChatDeps;
}) {
  const { transport, presence, deps } = opts;
  /** channel id → sockets here that joined it. */
  const local = new Map<number, Set<PortalSocket>>();
  const users = new WeakMap<PortalSocket, PortalUser>();

  const joinedOf = (socket: PortalSocket) => {
    let joined = socket.state[JOINED_KEY] as Map<number, string> | undefined;
    if (!joined) {
      joined = new Map();
      socket.state[JOINED_KEY] = joined;
    }
    return joined;
  };

  async function leave(socket: PortalSocket, user: PortalUser, channelId: number, announce: boolean) {
    const joined = joinedOf(socket);
    const name = joined.get(channelId);
    if (name === undefined) return;
    joined.delete(channelId);
    socket.unsubscribe(channelTopic(channelId));
    const here = local.get(channelId);
    here?.delete(socket);
    if (here?.size === 0) local.delete(channelId);
    const last = await presence.leave(channelId, user.userId);
    if (last && announce) {
      const view = await joinedView(deps.db, channelId, user.userId);
      if (view) {
        await publishChatEvent(deps, {
          channel_id: channelId,
          frame: { type: ChatServerType.USER_LEFT, channel: name, username: view.username },
        });
      }
    }
  }

  /** Sockets of readers who lost access get `frame` and leave the channel. */
  async function evict(channelId: number, who: number[] | 'non_members', frame: object) {
    const here = [...(local.get(channelId) ?? [])];
    if (here.length === 0) return;
    const members =
      who === 'non_members'
        ? new Set(
            (
              await deps.db
                .select({ id: channelMembers.userId })
                .from(channelMembers)
                .where(eq(channelMembers.channelId, channelId))
            ).map((r) => r.id),
          )
        : null;
    const gone = (user: PortalUser) =>
      members ? !members.has(user.userId) && !isAdmin(user) : (who as number[]).includes(user.userId);
    for (const socket of here) {
      const user = users.get(socket);
      if (!user || !gone(user)) continue;
      socket.sendJson(frame);
      await leave(socket, user, channelId, true);
    }
  }

  return {
    isJoined: (socket: PortalSocket, channelId: number) => joinedOf(socket).has(channelId),

    /** Adds the socket to the channel; announces `user_joined` for the user's first socket here. */
    async join(socket: PortalSocket, user: PortalUser, channelId: number, channelName: string) {
      const joined = joinedOf(socket);
      if (joined.has(channelId)) return false;
      if (joined.size >= MAX_JOINED_CHANNELS) throw new Error('too many channels');
      joined.set(channelId, channelName);
      users.set(socket, user);
      socket.subscribe(channelTopic(channelId));
      let here = local.get(channelId);
      if (!here) {
        here = new Set();
        local.set(channelId, here);
      }
      here.add(socket);
      if (await presence.join(channelId, user.userId)) {
        const view = await joinedView(deps.db, channelId, user.userId);
        if (view) {
          await publishChatEvent(deps, {
            channel_id: channelId,
            frame: { type: ChatServerType.USER_JOINED, channel: channelName, ...view },
            except_user_id: user.userId,
          });
        }
      }
      return true;
    },

    leave: (socket: PortalSocket, user: PortalUser, channelId: number) =>
      leave(socket, user, channelId, true),

    /** A closed socket leaves every channel it joined. */
    async drop(socket: PortalSocket, user: PortalUser) {
      for (const channelId of [...joinedOf(socket).keys()]) await leave(socket, user, channelId, true);
    },

    online: (channelId: number) => presence.members(channelId),

    deliver(message: ChatBusMessage) {
      const { channel_id: channelId, frame } = message;
      // Sockets hold their channels by id; the name they use for it (user_left, the default voice
      // room) follows renames.
      if (message.renamed) {
        for (const socket of local.get(message.renamed.id) ?? []) {
          joinedOf(socket).set(message.renamed.id, message.renamed.name);
        }
      }
      if (message.evict && channelId !== null) return void evict(channelId, message.evict, frame);
      const perViewer =
        message.real !== undefined ||
        (message.hidden_from?.length ?? 0) > 0 ||
        message.except_user_id !== undefined;
      if (!perViewer || channelId === null) {
        transport.publish(channelId === null ? ALL_TOPIC : channelTopic(channelId), JSON.stringify(frame));
      } else {
        const hidden = new Set(message.hidden_from ?? []);
        const realIds = new Set(message.real?.user_ids ?? []);
        const masked = JSON.stringify(frame);
        const real = message.real ? JSON.stringify(message.real.frame) : masked;
        for (const socket of local.get(channelId) ?? []) {
          const user = users.get(socket);
          if (!user || hidden.has(user.userId) || user.userId === message.except_user_id) continue;
          socket.send(realIds.has(user.userId) || isAdmin(user) ? real : masked);
        }
      }
      if (message.closes_channel && channelId !== null) {
        for (const socket of [...(local.get(channelId) ?? [])]) {
          const user = users.get(socket);
          if (user) void leave(socket, user, channelId, false);
        }
      }
    },
  };
}
