import type { Bus } from '../core/bus/types';

// Concurrent WebSockets per user and endpoint family (API.md §0 and §9: 10 per user), counted
// cluster-wide in a Bus presence set per user whose members are socket ids. A socket takes its
// place with add-then-count: it adds itself, counts, and backs out when it made the set exceed
// the cap, so two sockets racing for the last place may both be refused but never both admitted.
// The node holding a socket refreshes its entry; a node that dies without closing its sockets
// leaves entries that expire after the TTL, so nobody stays locked out.

type Log = { warn(obj: object, msg?: string): void };

export const SOCKET_CAP_TTL_MS = 90_000;
export const SOCKET_CAP_REFRESH_MS = 30_000;

export type SocketCap = ReturnType<typeof createSocketCap>;

export function createSocketCap(opts: {
  bus: Bus;
  /** Names the endpoint family in the set key (`/ws/chat`, `/ws/portal`). */
  family: string;
  max: number;
  log: Log;
  ttlMs?: number;
  refreshMs?: number;
}) {
  const { bus, max, log } = opts;
  const ttlMs = opts.ttlMs ?? SOCKET_CAP_TTL_MS;
  const setOf = (userId: number) => `ws-sockets:${opts.family}:${userId}`;
  /** Sockets of this node holding a place: socket id → user id. */
  const held = new Map<string, number>();

  const timer = setInterval(() => {
    for (const [socketId, userId] of held) {
      bus.presenceAdd(setOf(userId), socketId, ttlMs).catch((err: unknown) => {
        log.warn({ err, user_id: userId }, 'socket cap refresh failed');
      });
    }
  }, opts.refreshMs ?? SOCKET_CAP_REFRESH_MS);
  timer.unref();

  return {
    /** Takes a place for the socket; false when the user already holds `max` sockets. */
    async acquire(userId: number, socketId: string): Promise<boolean> {
      held.set(socketId, userId);
      try {
        await bus.presenceAdd(setOf(userId), socketId, ttlMs);
        if ((await bus.presenceCount(setOf(userId))) <= max) return true;
      } catch (err) {
        // As for rate limits: an unreachable counter store admits rather than refusing everyone.
        log.warn({ err, user_id: userId }, 'socket cap unavailable; admitting');
        return true;
      }
      await this.release(socketId);
      return false;
    },

    /** Gives the place back (idempotent; a no-op for a socket that holds none). */
    async release(socketId: string): Promise<void> {
      const userId = held.get(socketId);
      if (userId === undefined) return;
      held.delete(socketId);
      await bus.presenceRemove(setOf(userId), socketId).catch((err: unknown) => {
        log.warn({ err, user_id: userId }, 'socket cap release failed; the entry expires by itself');
      });
    },

    /** Sockets of `userId` on every node (for tests and diagnostics). */
    count: (userId: number) => bus.presenceCount(setOf(userId)),

    close(): void {
      clearInterval(timer);
    },
  };
}
