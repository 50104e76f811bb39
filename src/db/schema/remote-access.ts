import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, serial, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { users } from './users';

/** Admin-configured shared endpoints (API.md §6), visible by the users' `access:*` scopes. */
export const services = pgTable('services', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  plugin: text('plugin').notNull(),
  host: text('host').notNull(),
  port: integer('port').notNull(),
  path: text('path'),
  icon: text('icon'),
  category: text('category'),
  /** Extra scopes a user needs (one of them), comma-separated; empty: category rules only. */
  scopes: text('scopes').notNull().default(''),
  enabled: boolean('enabled').notNull().default(true),
  /** Plugin settings; for `ssh` the login (`username`, sealed `password`/`private_key`/`passphrase`). */
  config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
  /** SSH host key trusted on first use, and the `host:port` it was recorded for. */
  hostKeyFingerprint: text('host_key_fingerprint'),
  hostKeyEndpoint: text('host_key_endpoint'),
  /** Last probe of the service monitor (null: never probed). */
  healthy: boolean('healthy'),
  checkedAt: ts('checked_at'),
  createdAt: ts('created_at').notNull().defaultNow(),
});

/**
 * A user's own remote access points. `id` is an opaque random token (seed 002); secret config
 * fields (password, private_key, passphrase, token) are stored sealed with the SecretBox.
 */
export const userConnections = pgTable(
  'user_connections',
  {
    id: text('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    type: text('type').notNull(),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
    isPinned: boolean('is_pinned').notNull().default(false),
    /** The default "Web Browser" connection; at most one per user (created lazily, race-free). */
    isDefault: boolean('is_default').notNull().default(false),
    /** SSH host key trusted on first use (`SHA256:…`), and the `host:port` it was recorded for. */
    hostKeyFingerprint: text('host_key_fingerprint'),
    hostKeyEndpoint: text('host_key_endpoint'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('user_connections_user_idx').on(t.userId),
    uniqueIndex('user_connections_default_idx').on(t.userId).where(sql`${t.isDefault}`),
  ],
);

/** Public halves of generated SSH key pairs; the private key is returned once and never stored. */
export const sshKeys = pgTable(
  'ssh_keys',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    keyType: text('key_type').notNull(),
    publicKey: text('public_key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('ssh_keys_user_idx').on(t.userId)],
);
