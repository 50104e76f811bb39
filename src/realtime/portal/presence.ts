import type { Bus } from '../../core/bus/types';
import type { RealtimeSocket } from '../types';
import { ONLINE_USERS_SET, PortalTiming, PRESENCE_TOPIC } from './protocol';

// Which users this node holds sockets for, mirrored into the Bus presence set `online-users`.
// A user is added with their first socket here, refreshed while connected, and removed with their
// last socket here. Another node may still hold the same user: every removal is announced on the
// Bus, and nodes that still hold that user add them back at once.

type Log = { warn(obj: object, msg?: string): void };

type OfflineMessage = { user_id: number };

export type LocalPresence = ReturnType<typeof createLocalPresence>;

export async function createLocalPresence(opts: { bus: Bus; log: Log; ttlMs?: number; refreshMs?: number }) {
  const { bus, log } = opts;
  const ttlMs = opts.ttlMs ?? PortalTiming.PRESENCE_TTL_MS;
  const users = new Map<number, Set<RealtimeSocket<unknown>>>();

  const add = (userId: number) =>
    bus.presenceAdd(ONLINE_USERS_SET, String(userId), ttlMs).catch((err: unknown) => {
      log.warn({ err, user_id: userId }, 'presence add failed');
    });

  const unsubscribe = await bus.subscribe(PRESENCE_TOPIC, (message) => {
    const userId = (message as OfflineMessage).user_id;
    if (users.has(userId)) void add(userId);
  });

  const timer = setInterval(() => {
    for (const userId of users.keys()) void add(userId);
  }, opts.refreshMs ?? PortalTiming.PRESENCE_REFRESH_MS);
  timer.unref();

  return {
    has(userId: number): boolean {
      return users.has(userId);
    },
    /** Resolves once the Bus has the user (only the user's first socket here costs a call). */
    async join(userId: number, socket: RealtimeSocket<unknown>): Promise<void> {
      let sockets = users.get(userId);
      if (!sockets) {
        sockets = new Set();
        users.set(userId, sockets);
      }
      sockets.add(socket);
      if (sockets.size === 1) await add(userId);
    },
    async leave(userId: number, socket: RealtimeSocket<unknown>): Promise<void> {
      const sockets = users.get(userId);
      if (!sockets?.delete(socket) || sockets.size > 0) return;
      users.delete(userId);
      try {
        await bus.presenceRemove(ONLINE_USERS_SET, String(userId));
        await bus.publish(PRESENCE_TOPIC, { user_id: userId } satisfies OfflineMessage);
      } catch (err) {
        log.warn({ err, user_id: userId }, 'presence remove failed');
      }
    },
    async close(): Promise<void> {
      clearInterval(timer);
      await unsubscribe().catch(() => {});
    },
  };
}
