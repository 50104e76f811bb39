import { sql } from 'drizzle-orm';
import { check, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { users } from './users';

/**
 * A user's SFTP storage for recorded VODs (seed 002 "VOD Storage"): one row per user. `password`,
 * `private_key` and `passphrase` are sealed with the SecretBox; the host key is trusted on first
 * use, as for SSH connections.
 */
export const vodStorage = pgTable(
  'vod_storage',
  {
    userId: integer('user_id')
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    username: text('username').notNull(),
    /** `password` or `key`. */
    authMethod: text('auth_method').notNull(),
    password: text('password'),
    privateKey: text('private_key'),
    passphrase: text('passphrase'),
    remotePath: text('remote_path').notNull(),
    /** SSH host key trusted on first use (`SHA256:…`), and the `host:port` it was recorded for. */
    hostKeyFingerprint: text('host_key_fingerprint'),
    hostKeyEndpoint: text('host_key_endpoint'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('vod_storage_auth_method', sql`${t.authMethod} in ('password', 'key')`),
    check('vod_storage_port', sql`${t.port} between 1 and 65535`),
  ],
);
