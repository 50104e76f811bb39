// A value recomputed at most once per TTL, for the public statistics endpoints: concurrent callers
// share one in-flight computation, so a burst of requests costs one set of queries.

export type CachedValue<T> = { get(): Promise<T> };

/** `ttlMs` 0 keeps nothing between calls but still shares a computation already under way. */
export function cachedValue<T>(
  ttlMs: number,
  compute: () => Promise<T>,
  now: () => number = Date.now,
): CachedValue<T> {
  let fresh: { value: T; until: number } | undefined;
  let inflight: Promise<T> | undefined;
  return {
    get() {
      if (fresh && now() < fresh.until) return Promise.resolve(fresh.value);
      inflight ??= compute()
        .then((value) => {
          fresh = { value, until: now() + ttlMs };
          return value;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
  };
}
