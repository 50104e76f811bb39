import type { CounterStore } from './bus/types';

// The rate limiter of API.md §0: fixed one-minute windows per tier (and a bot's hourly limit),
// whose end X-RateLimit-Reset reports, plus per-user feature limits (chat, search, uploads) as
// sliding windows, which never admit more than the limit in any span of the window (a fixed
// window lets twice the limit through across a boundary). Counters live in the Bus's
// CounterStore, so limits are per process on one node and cluster-wide with Redis.

export const RATE_TIERS = ['LOGIN', 'AUTH', 'ADMIN', 'PUBLIC', 'BOT', 'HEALTH', 'MEDIA'] as const;
export type RateTier = (typeof RATE_TIERS)[number];

export type RateLimitResult = {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms when the current window ends. */
  resetAt: number;
  retryAfterSeconds: number;
};

export interface RateLimiter {
  /** Counts one request of `subject` (client IP or API-key hash) against the tier's per-minute limit. */
  check(tier: RateTier, subject: string): Promise<RateLimitResult>;
  /**
   * Counts one use of a feature limit, e.g. `checkCustom('chat', userId, 5, 5_000)`. Use lower-case
   * names: they share the key space with the upper-case tiers.
   */
  checkCustom(name: string, subject: string, limit: number, windowMs: number): Promise<RateLimitResult>;
  /**
   * Counts one use against a sliding window: admitted only while fewer than `limit` uses were
   * admitted in the last `windowMs`; refused uses are not counted. `resetAt` is when the next use
   * would be admitted.
   */
  checkSliding(name: string, subject: string, limit: number, windowMs: number): Promise<RateLimitResult>;
}

const TIER_WINDOW_MS = 60_000;

export function createRateLimiter(opts: {
  store: CounterStore;
  /** Requests per minute for each tier. */
  limits: Record<RateTier, number>;
  /** Must be the store's clock; only tests replace it. */
  now?: () => number;
}): RateLimiter {
  const now = opts.now ?? Date.now;

  const checkCustom = async (name: string, subject: string, limit: number, windowMs: number) => {
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`rate limit for ${name} must be a non-negative integer (got ${limit})`);
    }
    // Refused requests count too: a client hammering through a 429 gains nothing by it.
    const { count, resetAt } = await opts.store.hit(`rl:${name}:${subject}`, windowMs);
    const allowed = count <= limit;
    const untilReset = Math.max(0, Math.ceil((resetAt - now()) / 1000));
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - count),
      resetAt,
      retryAfterSeconds: allowed ? untilReset : Math.max(1, untilReset),
    } satisfies RateLimitResult;
  };

  const checkSliding = async (name: string, subject: string, limit: number, windowMs: number) => {
    const { allowed, count, retryAfterMs } = await opts.store.slide(`rl:${name}:${subject}`, limit, windowMs);
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - count),
      resetAt: now() + retryAfterMs,
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(retryAfterMs / 1000)),
    } satisfies RateLimitResult;
  };

  return {
    check: (tier, subject) => checkCustom(tier, subject, opts.limits[tier], TIER_WINDOW_MS),
    checkCustom,
    checkSliding,
  };
}

/**
 * The limit to report when two apply (BOT tier and a bot's hourly limit): a refused one first, so
 * the headers explain the 429; then fewer remaining; on a tie the later reset.
 */
export function tighter(a: RateLimitResult, b: RateLimitResult): RateLimitResult {
  if (a.allowed !== b.allowed) return a.allowed ? b : a;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining ? a : b;
  return b.resetAt > a.resetAt ? b : a;
}

/** `X-RateLimit-Reset` is a Unix epoch in seconds (API.md §0 "Time"); 429s add `Retry-After`. */
export function rateLimitHeaders(r: RateLimitResult): Record<string, string> {
  const headers: Record<string, string> = {
    'X-RateLimit-Limit': String(r.limit),
    'X-RateLimit-Remaining': String(r.remaining),
    'X-RateLimit-Reset': String(Math.ceil(r.resetAt / 1000)),
  };
  if (!r.allowed) headers['Retry-After'] = String(r.retryAfterSeconds);
  return headers;
}
