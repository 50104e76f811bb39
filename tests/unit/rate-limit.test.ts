import { beforeEach, describe, expect, it } from 'vitest';
import { createLocalCounterStore } from '../../src/core/bus/local';
import type { CounterStore } from '../../src/core/bus/types';
import {
  createRateLimiter,
  RATE_TIERS,
  type RateLimiter,
  type RateLimitResult,
  type RateTier,
  rateLimitHeaders,
  tighter,
} from '../../src/core/rate-limit';

// A hand-driven clock: the limiter and its store must agree on time, and minute windows aligned to
// the epoch would otherwise make these tests depend on when they run.
const MINUTE_START = Date.UTC(2030, 0, 1, 12, 0, 0);
const LIMITS: Record<RateTier, number> = {
  LOGIN: 3,
  AUTH: 5,
  ADMIN: 2,
  PUBLIC: 4,
  BOT: 6,
  HEALTH: 10,
  MEDIA: 20,
};

let t: number;
let keys: { key: string; windowMs: number }[];
let limiter: RateLimiter;

beforeEach(() => {
  t = MINUTE_START + 10_000;
  keys = [];
  const inner = createLocalCounterStore({ now: () => t });
  // Records what the limiter asks of the store, to pin the key format of API.md's counters.
  const store: CounterStore = {
    hit: (key, windowMs, cost) => {
      keys.push({ key, windowMs });
      return inner.hit(key, windowMs, cost);
    },
    slide: (key, limit, windowMs) => {
      keys.push({ key, windowMs });
      return inner.slide(key, limit, windowMs);
    },
    reset: (key) => inner.reset(key),
  };
  limiter = createRateLimiter({ store, limits: LIMITS, now: () => t });
});

async function hitTimes(n: number, hit: () => Promise<RateLimitResult>): Promise<RateLimitResult[]> {
  const results: RateLimitResult[] = [];
  for (let i = 0; i < n; i++) results.push(await hit());
  return results;
}

describe('tiers', () => {
  it('lists the six tiers of API.md §0, plus MEDIA for playback and media-server hooks', () => {
    expect(RATE_TIERS).toEqual(['LOGIN', 'AUTH', 'ADMIN', 'PUBLIC', 'BOT', 'HEALTH', 'MEDIA']);
  });

  it('allows exactly the limit, then refuses until the window ends', async () => {
    const results = await hitTimes(4, () => limiter.check('LOGIN', '203.0.113.7'));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
    const refused = results[3]!;
    expect(refused).toEqual({
      allowed: false,
      limit: 3,
      remaining: 0,
      resetAt: MINUTE_START + 60_000,
      retryAfterSeconds: 50,
    });

    // Hammering through a 429 keeps it refused and never drives `remaining` below zero.
    t += 30_000;
    const still = await limiter.check('LOGIN', '203.0.113.7');
    expect(still).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 20 });

    t = MINUTE_START + 60_000;
    const next = await limiter.check('LOGIN', '203.0.113.7');
    expect(next).toMatchObject({ allowed: true, remaining: 2, resetAt: MINUTE_START + 120_000 });
  });

  it('asks for at least one second of patience when refused', async () => {
    t = MINUTE_START + 59_999;
    const results = await hitTimes(4, () => limiter.check('LOGIN', 'ip'));
    expect(results[3]).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
  });

  it('counts each subject on its own', async () => {
    await hitTimes(3, () => limiter.check('LOGIN', 'ip-a'));
    expect((await limiter.check('LOGIN', 'ip-a')).allowed).toBe(false);
    expect(await limiter.check('LOGIN', 'ip-b')).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('gives every tier its own limit and its own counter', async () => {
    for (const tier of RATE_TIERS) {
      const results = await hitTimes(LIMITS[tier] + 1, () => limiter.check(tier, 'same-subject'));
      expect(results.filter((r) => r.allowed)).toHaveLength(LIMITS[tier]);
      expect(results.at(-1)).toMatchObject({ allowed: false, limit: LIMITS[tier] });
    }
  });

  it('keys counters as rl:<tier>:<subject> in one-minute windows', async () => {
    await limiter.check('BOT', 'key-hash');
    expect(keys).toEqual([{ key: 'rl:BOT:key-hash', windowMs: 60_000 }]);
  });
});

describe('checkCustom', () => {
  it('applies a feature limit in its own window (chat: 5 messages per 5 s)', async () => {
    t = MINUTE_START + 1_000;
    const results = await hitTimes(6, () => limiter.checkCustom('chat', 'user-1', 5, 5_000));
    expect(results.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0, 0]);
    expect(results[5]).toEqual({
      allowed: false,
      limit: 5,
      remaining: 0,
      resetAt: MINUTE_START + 5_000,
      retryAfterSeconds: 4,
    });
    expect(keys.at(-1)).toEqual({ key: 'rl:chat:user-1', windowMs: 5_000 });

    t = MINUTE_START + 5_000;
    expect((await limiter.checkCustom('chat', 'user-1', 5, 5_000)).allowed).toBe(true);
  });

  it('keeps feature limits apart from each other and from the tiers', async () => {
    await hitTimes(2, () => limiter.checkCustom('search', 'user-1', 2, 60_000));
    expect((await limiter.checkCustom('search', 'user-1', 2, 60_000)).allowed).toBe(false);
    expect((await limiter.checkCustom('chat', 'user-1', 2, 5_000)).allowed).toBe(true);
    expect(await limiter.check('AUTH', 'user-1')).toMatchObject({ allowed: true, remaining: 4 });
  });

  it('refuses everything with a limit of 0 and rejects a nonsense limit', async () => {
    expect(await limiter.checkCustom('bot-hourly', 'bot-9', 0, 3_600_000)).toMatchObject({
      allowed: false,
      remaining: 0,
    });
    await expect(limiter.checkCustom('bad', 'x', -1, 1_000)).rejects.toThrow(RangeError);
    await expect(limiter.checkCustom('bad', 'x', 1.5, 1_000)).rejects.toThrow(RangeError);
  });
});

describe('tighter', () => {
  const result = (over: Partial<RateLimitResult>): RateLimitResult => ({
    allowed: true,
    limit: 100,
    remaining: 50,
    resetAt: MINUTE_START + 60_000,
    retryAfterSeconds: 50,
    ...over,
  });

  it('reports the limit with fewer remaining', () => {
    const tier = result({ limit: 600, remaining: 590 });
    const hourly = result({ limit: 100, remaining: 3, resetAt: MINUTE_START + 3_600_000 });
    expect(tighter(tier, hourly)).toBe(hourly);
    expect(tighter(hourly, tier)).toBe(hourly);
  });

  it('breaks a tie on remaining with the later reset', () => {
    const soon = result({ remaining: 5 });
    const later = result({ remaining: 5, resetAt: MINUTE_START + 120_000 });
    expect(tighter(soon, later)).toBe(later);
    expect(tighter(later, soon)).toBe(later);
  });

  it('reports a refused limit over an allowed one with nothing left', () => {
    const lastAllowed = result({ remaining: 0, resetAt: MINUTE_START + 3_600_000 });
    const refused = result({ allowed: false, remaining: 0, retryAfterSeconds: 5 });
    expect(tighter(lastAllowed, refused)).toBe(refused);
    expect(tighter(refused, lastAllowed)).toBe(refused);
  });
});

describe('rateLimitHeaders', () => {
  it('reports limit, remaining and the reset as Unix seconds', async () => {
    const r = await limiter.check('AUTH', 'ip');
    expect(rateLimitHeaders(r)).toEqual({
      'X-RateLimit-Limit': '5',
      'X-RateLimit-Remaining': '4',
      'X-RateLimit-Reset': String((MINUTE_START + 60_000) / 1000),
    });
  });

  it('rounds a reset that falls inside a second up', () => {
    const headers = rateLimitHeaders({
      allowed: true,
      limit: 10,
      remaining: 9,
      resetAt: 1_700_000_000_001,
      retryAfterSeconds: 1,
    });
    expect(headers['X-RateLimit-Reset']).toBe('1700000001');
  });

  it('adds Retry-After when refused', async () => {
    const results = await hitTimes(3, () => limiter.check('ADMIN', 'ip'));
    expect(rateLimitHeaders(results[2]!)).toEqual({
      'X-RateLimit-Limit': '2',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': String((MINUTE_START + 60_000) / 1000),
      'Retry-After': '50',
    });
  });
});

describe('sliding windows (chat, search, uploads)', () => {
  it('never admits more than the limit in any span of the window, across epoch boundaries', async () => {
    // Five just before a 5 s boundary: a fixed window would admit five more just after it.
    t = MINUTE_START + 4_900;
    const first = await hitTimes(5, () => limiter.checkSliding('chat', '42', 5, 5_000));
    expect(first.map((r) => r.allowed)).toEqual([true, true, true, true, true]);
    expect(first.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0]);
    t = MINUTE_START + 5_100;
    const refused = await limiter.checkSliding('chat', '42', 5, 5_000);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 5 });
    expect(refused.resetAt).toBe(MINUTE_START + 4_900 + 5_000 + 1);
    // A refused use is not counted, and a use exactly one window old still is.
    t = MINUTE_START + 9_900;
    expect((await limiter.checkSliding('chat', '42', 5, 5_000)).allowed).toBe(false);
    t = MINUTE_START + 9_901;
    const next = await hitTimes(6, () => limiter.checkSliding('chat', '42', 5, 5_000));
    expect(next.map((r) => r.allowed)).toEqual([true, true, true, true, true, false]);
    expect(keys.at(-1)).toEqual({ key: 'rl:chat:42', windowMs: 5_000 });
  });

  it('frees one slot at a time as the oldest uses age out', async () => {
    for (const offset of [0, 1_000, 2_000]) {
      t = MINUTE_START + offset;
      expect((await limiter.checkSliding('search', 'u', 3, 10_000)).allowed).toBe(true);
    }
    t = MINUTE_START + 10_001;
    expect((await limiter.checkSliding('search', 'u', 3, 10_000)).allowed).toBe(true);
    const refused = await limiter.checkSliding('search', 'u', 3, 10_000);
    expect(refused.allowed).toBe(false);
    expect(refused.resetAt).toBe(MINUTE_START + 11_001);
    // Subjects are counted apart.
    expect((await limiter.checkSliding('search', 'v', 3, 10_000)).allowed).toBe(true);
  });
});
