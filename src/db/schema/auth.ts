import { index, integer, pgTable, serial, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { bots } from './bots';
import { ts } from './columns';
import { users } from './users';

/**
 * One session store for every sign-in (the Lucia guide's design): the bearer token is random and
 * only its SHA-256 is kept; `id` is the public session id (JWT `jti`, `token_id`).
 */
export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    /** Last 6 characters of the token, to name a session without revealing it (seed 003). */
    tokenSuffix: text('token_suffix').notNull(),
    method: text('method').notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [uniqueIndex('sessions_token_hash_idx').on(t.tokenHash), index('sessions_user_idx').on(t.userId)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    keyHash: text('key_hash').notNull(),
    keyPrefix: text('key_prefix').notNull(),
    scopes: text('scopes').notNull().default('*'),
    expiresAt: ts('expires_at'),
    revokedAt: ts('revoked_at'),
    lastUsedAt: ts('last_used_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('api_keys_hash_idx').on(t.keyHash), index('api_keys_user_idx').on(t.userId)],
);

/**
 * One-time sign-in codes (OTP login). The code is stored as an HMAC for verification and, until
 * a linked bot delivers it, AES-256-GCM encrypted so the bot can fetch it.
 */
export const loginRequests = pgTable(
  'login_requests',
  {
    id: text('id').primaryKey(),
    /** Null when the username does not exist: the caller gets the same answer (no enumeration). */
    userId: integer('user_id').references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    codeEncrypted: text('code_encrypted'),
    ipHash: text('ip_hash').notNull(),
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    deliveredVia: text('delivered_via'),
    deliveredByBotId: integer('delivered_by_bot_id').references(() => bots.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [
    index('login_requests_ip_idx').on(t.ipHash, t.expiresAt),
    index('login_requests_user_idx').on(t.userId),
  ],
);
