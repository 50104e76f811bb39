import { and, desc, eq, gt, isNull, or } from 'drizzle-orm';
import { randomToken, sha256Hex } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { apiKeys, users } from '../../db/schema';
import { recordActivity } from '../activity/activity';

export const API_KEY_PREFIX = 'portal_';
const MAX_KEYS_PER_USER = 50;

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** Public view: never the key or its hash, only the prefix (seed 002). */
export const toApiKeyView = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  key_prefix: k.keyPrefix,
  scopes: k.scopes,
  expires_at: k.expiresAt?.toISOString() ?? null,
  revoked: k.revokedAt !== null,
  revoked_at: k.revokedAt?.toISOString() ?? null,
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
  created_at: k.createdAt.toISOString(),
});

export async function createApiKey(
  db: Db,
  opts: { userId: number; name: string; scopes: string; expiresInDays: number | null },
) {
  const existing = await db.$count(apiKeys, eq(apiKeys.userId, opts.userId));
  if (existing >= MAX_KEYS_PER_USER)
    throw new AppError('CONFLICT', `At most ${MAX_KEYS_PER_USER} API keys per user`);
  const key = `${API_KEY_PREFIX}${randomToken(30)}`;
  const [row] = await db
    .insert(apiKeys)
    .values({
      userId: opts.userId,
      name: opts.name,
      keyHash: sha256Hex(key),
      keyPrefix: key.slice(0, 10),
      scopes: opts.scopes,
      expiresAt: opts.expiresInDays === null ? null : new Date(Date.now() + opts.expiresInDays * 86_400_000),
    })
    .returning();
  await recordActivity(db, {
    userId: opts.userId,
    action: 'api_key_created',
    details: `Created API key "${opts.name}"`,
  });
  return { key, row: row! };
}

export async function listApiKeys(db: Db, userId: number) {
  return db.select().from(apiKeys).where(eq(apiKeys.userId, userId)).orderBy(desc(apiKeys.createdAt));
}

export async function revokeApiKey(db: Db, userId: number, id: number) {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId)))
    .returning();
  if (!row) throw new AppError('NOT_FOUND', 'API key not found');
  await recordActivity(db, { userId, action: 'api_key_revoked', details: `Revoked API key "${row.name}"` });
  return row;
}

export async function deleteApiKey(db: Db, userId: number, id: number) {
  const rows = await db
    .delete(apiKeys)
    .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId)))
    .returning();
  if (rows.length === 0) throw new AppError('NOT_FOUND', 'API key not found');
  await recordActivity(db, {
    userId,
    action: 'api_key_deleted',
    details: `Deleted API key "${rows[0]!.name}"`,
  });
  return rows[0]!;
}

/** One indexed query: a usable (not revoked, not expired) key with its user. */
export async function findApiKey(db: Db, key: string) {
  const [row] = await db
    .select({ key: apiKeys, user: users })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(
      and(
        eq(apiKeys.keyHash, sha256Hex(key)),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, new Date())),
      ),
    )
    .limit(1);
  return row ?? null;
}

/**
 * Key scopes: `*`, or a comma-separated list of router groups, each optionally `:read`.
 * A read-only grant allows queries only.
 */
export function keyAllows(keyScopes: string, group: string, isMutation: boolean): boolean {
  const grants = keyScopes.split(',').map((s) => s.trim());
  if (grants.includes('*')) return true;
  if (grants.includes(group)) return true;
  return !isMutation && grants.includes(`${group}:read`);
}

const TOUCH_INTERVAL_MS = 5 * 60 * 1000;

/** Records last use at most every few minutes, off the request path, so keys cost no write per call. */
export function touchApiKey(db: Db, key: ApiKeyRow) {
  if (key.lastUsedAt && Date.now() - key.lastUsedAt.getTime() < TOUCH_INTERVAL_MS) return;
  // The row may be a cached one shared by later requests: they must see the touch too.
  key.lastUsedAt = new Date();
  db.update(apiKeys)
    .set({ lastUsedAt: new Date() })
    .where(eq(apiKeys.id, key.id))
    .catch(() => {
      // Best effort: a missed timestamp never fails the request.
    });
}
