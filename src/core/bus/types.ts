// The one Bus interface (DESIGN.md rule 8): realtime hubs, presence and rate counters use it,
// with an in-process implementation for one node and a Redis one for cluster mode.

export type BusHandler = (message: unknown, topic: string) => void;

/** Fixed-window counters shared by every node (rate limits, feature limits). */
export interface CounterStore {
  /**
   * Counts one hit on `key` in the current window of `windowMs` (windows are aligned to the
   * epoch, so every node agrees on them). Returns the count including this hit and when the
   * window ends (epoch ms).
   */
  hit(key: string, windowMs: number, cost?: number): Promise<{ count: number; resetAt: number }>;
  /**
   * A sliding-window log: admits the hit when fewer than `limit` hits were admitted on `key` in the
   * last `windowMs` (so no span of `windowMs` ever holds more than `limit`), and records it. A
   * refused hit is not recorded. `retryAfterMs` is how long until the next hit would be admitted.
   */
  slide(key: string, limit: number, windowMs: number): Promise<SlideResult>;
  /** Forgets a key (tests, admin resets). */
  reset(key: string): Promise<void>;
}

export type SlideResult = { allowed: boolean; count: number; retryAfterMs: number };

export interface Bus {
  readonly kind: 'local' | 'redis';
  readonly counters: CounterStore;
  /** Delivers `message` (JSON-serialisable) to every subscriber of `topic` on every node, this one included. */
  publish(topic: string, message: unknown): Promise<void>;
  /** Resolves once the subscription is active cluster-wide; the returned function unsubscribes this handler. */
  subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>>;
  /** Cluster-wide presence sets: members expire `ttlMs` after their last add unless refreshed. */
  presenceAdd(set: string, member: string, ttlMs: number): Promise<void>;
  presenceRemove(set: string, member: string): Promise<void>;
  presenceMembers(set: string): Promise<string[]>;
  presenceCount(set: string): Promise<number>;
  /** Throws when the bus is unreachable (readiness probe). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
