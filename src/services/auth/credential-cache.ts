import type { Database } from '../../db/client';

// Credential lookups answered from memory (issue #8: authenticated REST near bare express).
// Correctness does not rest on code paths remembering to invalidate: triggers on users, sessions,
// api_keys and bots NOTIFY `portal_auth` with the subject of every change (migration
// 0010_credential_cache), and every node LISTENs. NOTIFY is sent at commit, so revocation,
// bans, scope and profile changes reach every node's cache as soon as they are visible. On the
// node that writes, the answer to the write can overtake its NOTIFY; so the cache also pauses
// for a moment whenever this process writes one of those tables.

export const AUTH_CHANNEL = 'portal_auth';

/** `u:<user id>` or `b:<bot id>`: whose cached credentials a change makes stale. */
export type Subject = `u:${number}` | `b:${number}`;

type Entry = { subject: Subject; value: unknown; until: number };

/** How long a local write to a credential table pauses the cache: its NOTIFY is on the way. */
const WRITE_PAUSE_MS = 1000;

export type CredentialCache = {
  /** Whether a listener is attached: without one nothing is cached (the CLI, in-process callers). */
  readonly enabled: boolean;
  get<T>(key: string): T | undefined;
  /** A read's start: pass the ticket to `set`, which drops the value if a change came meanwhile. */
  ticket(): number;
  set(key: string, subject: Subject, value: unknown, ticket: number): void;
  invalidate(subject: string): void;
  clear(): void;
  /** Starts listening on the database; a reconnect clears everything (changes may be missed). */
  attach(database: Database): Promise<void>;
  detach(): Promise<void>;
};

export function createCredentialCache(opts: { ttlSeconds: number; maxEntries?: number }): CredentialCache {
  const ttlMs = opts.ttlSeconds * 1000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  const keysOf = new Map<string, Set<string>>();
  // Bumped by every change; a read that started before the last change must not be stored.
  let changes = 0;
  let stop: (() => Promise<void>) | null = null;
  let pausedUntil = 0;

  const drop = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    const keys = keysOf.get(entry.subject);
    keys?.delete(key);
    if (keys?.size === 0) keysOf.delete(entry.subject);
  };

  const cache: CredentialCache = {
    get enabled() {
      return stop !== null && ttlMs > 0;
    },
    get<T>(key: string) {
      if (!cache.enabled || Date.now() < pausedUntil) return undefined;
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.until <= Date.now()) {
        drop(key);
        return undefined;
      }
      return entry.value as T;
    },
    ticket: () => changes,
    set(key, subject, value, ticket) {
      if (!cache.enabled || ticket !== changes || Date.now() < pausedUntil) return;
      drop(key);
      // Oldest first out: Map keeps insertion order.
      while (entries.size >= maxEntries) drop(entries.keys().next().value!);
      entries.set(key, { subject, value, until: Date.now() + ttlMs });
      const keys = keysOf.get(subject) ?? new Set<string>();
      keys.add(key);
      keysOf.set(subject, keys);
    },
    invalidate(subject) {
      changes++;
      for (const key of keysOf.get(subject) ?? []) entries.delete(key);
      keysOf.delete(subject);
    },
    clear() {
      changes++;
      entries.clear();
      keysOf.clear();
    },
    async attach(database) {
      if (ttlMs <= 0 || stop) return;
      database.onCredentialWrite(() => {
        changes++;
        pausedUntil = Date.now() + WRITE_PAUSE_MS;
      });
      stop = await database.listen(
        AUTH_CHANNEL,
        (payload) => cache.invalidate(payload),
        () => cache.clear(),
      );
    },
    async detach() {
      const s = stop;
      stop = null;
      cache.clear();
      await s?.();
    },
  };
  return cache;
}
