import type { Bus } from '../../core/bus/types';
import { ChatTiming, channelPresenceSet } from './protocol';

// Who is in which channel, cluster-wide: each node adds `<node>:<user id>` to the channel's Bus
// presence set for the users it holds there, refreshes them while they stay, and removes them with
// their last socket here. Entries of a node that died expire with their TTL.

type Log = { warn(obj: object, msg?: string): void };

export async function createChannelPresence(opts: { bus: Bus; log: Log; nodeId: string }) {
  const { bus, log, nodeId } = opts;
  /** channel id → user id → sockets here. */
  const local = new Map<number, Map<number, number>>();
  const member = (userId: number) => `${nodeId}:${userId}`;

  const add = (channelId: number, userId: number) =>
    bus
      .presenceAdd(channelPresenceSet(channelId), member(userId), ChatTiming.PRESENCE_TTL_MS)
      .catch((err: unknown) => log.warn({ err, channel_id: channelId }, 'chat presence add failed'));

  const timer = setInterval(() => {
    for (const [channelId, users] of local) for (const userId of users.keys()) void add(channelId, userId);
  }, ChatTiming.PRESENCE_REFRESH_MS);
  timer.unref();

  return {
    /** True when this is the user's first socket in the channel on this node. */
    async join(channelId: number, userId: number): Promise<boolean> {
      let users = local.get(channelId);
      if (!users) {
        users = new Map();
        local.set(channelId, users);
      }
      const count = (users.get(userId) ?? 0) + 1;
      users.set(userId, count);
      if (count === 1) await add(channelId, userId);
      return count === 1;
    },
    /** True when it was the user's last socket in the channel on this node. */
    async leave(channelId: number, userId: number): Promise<boolean> {
      const users = local.get(channelId);
      const count = users?.get(userId);
      if (!users || count === undefined) return false;
      if (count > 1) {
        users.set(userId, count - 1);
        return false;
      }
      users.delete(userId);
      if (users.size === 0) local.delete(channelId);
      await bus
        .presenceRemove(channelPresenceSet(channelId), member(userId))
        .catch((err: unknown) => log.warn({ err, channel_id: channelId }, 'chat presence remove failed'));
      return true;
    },
    /** Distinct user ids online in the channel on any node. */
    async members(channelId: number): Promise<number[]> {
      const entries = await bus.presenceMembers(channelPresenceSet(channelId));
      return [...new Set(entries.map((e) => Number(e.slice(e.lastIndexOf(':') + 1))))].filter(
        Number.isSafeInteger,
      );
    },
    close() {
      clearInterval(timer);
    },
  };
}

export type ChannelPresence = Awaited<ReturnType<typeof createChannelPresence>>;
