import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  serial,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { channels } from './chat';
import { ts } from './columns';
import { users } from './users';

// User streams of seed 002 (API.md §7). MediaMTX carries the video; these rows are its brain.
// The publish key (`live_…`) is sealed with the SecretBox (shown to the owner) and looked up by a
// keyed hash, so a database dump reveals neither the key nor the MediaMTX path derived from it.
// The playback key (`pub_…`) is public by design: it is in every playback and thumbnail URL.

/** PNG/JPEG bytes (thumbnails): Buffer on both drivers. */
const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => Buffer.from(value),
  toDriver: (value) => value,
});

export const streams = pgTable(
  'streams',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    description: text('description').notNull().default(''),
    isPublic: boolean('is_public').notNull().default(true),
    rtmpEnabled: boolean('rtmp_enabled').notNull().default(false),
    /** Sealed publish key `live_…` (SecretBox). */
    streamKey: text('stream_key').notNull(),
    /** HMAC-SHA256 of the publish key under the server key: how MediaMTX's requests find the stream. */
    streamKeyHash: text('stream_key_hash').notNull(),
    /** `pub_…`: in every playback and thumbnail URL, never a publishing credential. */
    playbackKey: text('playback_key').notNull(),
    /** 0 offline, 1 live, 2 encoding (VOD finalisation holds it until the last chunk is offloaded). */
    isLive: integer('is_live').notNull().default(0),
    /** Sealed MediaMTX path of the current session (`live/<key or rtmp token>`), null when offline. */
    livePath: text('live_path'),
    /** Random id of the current (or last) live session; holds and recordings refer to it. */
    liveSessionId: text('live_session_id'),
    startedAt: ts('started_at'),
    endedAt: ts('ended_at'),
    /** The stream's own chat channel (created and deleted with the stream). */
    chatChannelId: integer('chat_channel_id').references(() => channels.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('streams_user_idx').on(t.userId),
    uniqueIndex('streams_key_hash_idx').on(t.streamKeyHash),
    uniqueIndex('streams_playback_key_idx').on(t.playbackKey),
    uniqueIndex('streams_chat_channel_idx').on(t.chatChannelId),
    index('streams_live_idx').on(t.isLive).where(sql`${t.isLive} <> 0`),
    check('streams_is_live', sql`${t.isLive} in (0, 1, 2)`),
    check('streams_title_len', sql`char_length(${t.title}) between 1 and 100`),
  ],
);

/**
 * Temporary single-use publish tokens for plain RTMP (`rtmp_…`, seed 002): 15 minutes to start
 * publishing, then a reconnect within the grace period after the session drops. Kept as hashes.
 */
export const streamRtmpTokens = pgTable(
  'stream_rtmp_tokens',
  {
    id: serial('id').primaryKey(),
    streamId: integer('stream_id')
      .notNull()
      .references(() => streams.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    expiresAt: ts('expires_at').notNull(),
    /** The first publish with it (single use: later ones are reconnects or refused). */
    usedAt: ts('used_at'),
    /** When the session it started last went offline: a reconnect may follow within the grace. */
    releasedAt: ts('released_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('stream_rtmp_tokens_hash_idx').on(t.tokenHash),
    index('stream_rtmp_tokens_stream_idx').on(t.streamId),
  ],
);

/** Users banned from a stream's chat channel by its owner (seed 002 "Stream Moderation"). */
export const streamBans = pgTable(
  'stream_bans',
  {
    streamId: integer('stream_id')
      .notNull()
      .references(() => streams.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    reason: text('reason'),
    bannedBy: integer('banned_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.streamId, t.userId] }), index('stream_bans_user_idx').on(t.userId)],
);

/** Who gets `stream_live` notifications besides the owner (API.md §4 "streams you follow or own"). */
export const streamFollows = pgTable(
  'stream_follows',
  {
    streamId: integer('stream_id')
      .notNull()
      .references(() => streams.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.streamId, t.userId] }), index('stream_follows_user_idx').on(t.userId)],
);

/**
 * Work that keeps an ended stream at `is_live` 2 (VOD chunks still being offloaded). The stream
 * goes to 0 when its last hold is released; rows survive a restart, so the work can resume.
 */
export const streamOfflineHolds = pgTable(
  'stream_offline_holds',
  {
    streamId: integer('stream_id')
      .notNull()
      .references(() => streams.id, { onDelete: 'cascade' }),
    /** Who holds it, e.g. `vod:<session id>`; one hold per holder and stream. */
    holder: text('holder').notNull(),
    sessionId: text('session_id'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.streamId, t.holder] })],
);

/** The owner's static thumbnail (JPEG or PNG, at most 2 MB), in the database so every node serves it. */
export const streamThumbnails = pgTable('stream_thumbnails', {
  streamId: integer('stream_id')
    .primaryKey()
    .references(() => streams.id, { onDelete: 'cascade' }),
  contentType: text('content_type').notNull(),
  data: bytea('data').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});
