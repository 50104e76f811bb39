import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { streams } from './streams';
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

/**
 * Where a stream is relayed while it is live (seed 002 "Stream Relays"), at most 10 per stream.
 * The ingest URL and the destination's stream key are sealed with the SecretBox; reads show
 * `has_stream_key`. `status`/`last_error` are the supervised ffmpeg's, written by the node that
 * runs it, so the owner sees them from any node.
 */
export const streamRelays = pgTable(
  'stream_relays',
  {
    id: serial('id').primaryKey(),
    streamId: integer('stream_id')
      .notNull()
      .references(() => streams.id, { onDelete: 'cascade' }),
    platform: text('platform').notNull(),
    name: text('name').notNull(),
    rtmpUrl: text('rtmp_url').notNull(),
    streamKey: text('stream_key'),
    enabled: boolean('enabled').notNull().default(true),
    /** `idle`, `starting`, `running` or `retrying`. */
    status: text('status').notNull().default('idle'),
    lastError: text('last_error'),
    statusAt: ts('status_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('stream_relays_stream_idx').on(t.streamId)],
);
