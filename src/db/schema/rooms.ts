import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, primaryKey, serial, text } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { users } from './users';

// The "chats" of seeds 000/003 (API.md §5): rooms with members, a message log and a shared remote
// browser. Direct rooms are the 1-on-1 chats made by matchmaking; they cost no chat slot and have
// no owner. Destroying a room deletes its row (and, by cascade, everything below), freeing the slot.

export const rooms = pgTable(
  'rooms',
  {
    id: serial('id').primaryKey(),
    /** Null for direct (matchmaking) rooms. */
    ownerId: integer('owner_id').references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull().default('room'),
    name: text('name').notNull(),
    startUrl: text('start_url').notNull(),
    viewportWidth: integer('viewport_width').notNull(),
    viewportHeight: integer('viewport_height').notNull(),
    maxMembers: integer('max_members').notNull(),
    /** Who may take control of the browser: `owner`, `moderators` or `everyone`. */
    controlPolicy: text('control_policy').notNull(),
    /** The room clipboard, sealed with the SecretBox (room content is a secret at rest). */
    clipboard: text('clipboard'),
    /** `stopped` or `running`; `browserNode` names the node whose runtime holds the browser. */
    browserState: text('browser_state').notNull().default('stopped'),
    browserNode: text('browser_node'),
    browserStartedAt: ts('browser_started_at'),
    /** The member who controls the browser now (API.md §9 control handover); null: nobody. */
    controlUserId: integer('control_user_id').references(() => users.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('rooms_owner_idx').on(t.ownerId),
    index('rooms_browser_idx').on(t.browserState),
    check('rooms_kind', sql`${t.kind} in ('room', 'direct')`),
  ],
);

export const roomMembers = pgTable(
  'room_members',
  {
    roomId: integer('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** `owner`, `moderator` or `member`. */
    role: text('role').notNull().default('member'),
    /** Cannot send while in the future (mute without a duration lasts until unmuted). */
    mutedUntil: ts('muted_until'),
    /** Cannot send or control while in the future. */
    timeoutUntil: ts('timeout_until'),
    joinedAt: ts('joined_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index('room_members_user_idx').on(t.userId)],
);

/** Banned users cannot rejoin (by invite or otherwise) until unbanned or, for a timed ban, it ends. */
export const roomBans = pgTable(
  'room_bans',
  {
    roomId: integer('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    actorUserId: integer('actor_user_id').references(() => users.id, { onDelete: 'set null' }),
    reason: text('reason'),
    /** Null: until unbanned. */
    expiresAt: ts('expires_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] })],
);

export const roomInvites = pgTable(
  'room_invites',
  {
    code: text('code').primaryKey(),
    roomId: integer('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    expiresAt: ts('expires_at'),
    /** Null: unlimited. */
    maxUses: integer('max_uses'),
    uses: integer('uses').notNull().default(0),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('room_invites_room_idx').on(t.roomId)],
);

/**
 * Room chat. Plain `content` is sealed with the SecretBox; end-to-end messages carry `ciphertext`,
 * `nonce` and `key_ids` instead, which the server stores and relays without reading.
 */
export const roomMessages = pgTable(
  'room_messages',
  {
    id: serial('id').primaryKey(),
    roomId: integer('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    content: text('content'),
    ciphertext: text('ciphertext'),
    nonce: text('nonce'),
    keyIds: jsonb('key_ids').$type<number[]>(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('room_messages_room_idx').on(t.roomId, t.id)],
);

/** Members' public keys for end-to-end encrypted room chat (one per member and room). */
export const roomKeys = pgTable(
  'room_keys',
  {
    id: serial('id').primaryKey(),
    roomId: integer('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    publicKey: text('public_key').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('room_keys_room_user_idx').on(t.roomId, t.userId)],
);

/** The per-room moderation log (GET /chats/{id}/moderation); the audit log gets a copy. */
export const roomModeration = pgTable(
  'room_moderation',
  {
    id: serial('id').primaryKey(),
    roomId: integer('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    actorUserId: integer('actor_user_id').references(() => users.id, { onDelete: 'set null' }),
    targetUserId: integer('target_user_id').references(() => users.id, { onDelete: 'set null' }),
    action: text('action').notNull(),
    reason: text('reason'),
    durationMinutes: integer('duration_minutes'),
    expiresAt: ts('expires_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('room_moderation_room_idx').on(t.roomId, t.id)],
);

/** Users waiting for a 1-on-1 match; one entry per user (the primary key). */
export const matchQueue = pgTable(
  'match_queue',
  {
    userId: integer('user_id')
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    interests: jsonb('interests').$type<string[]>().notNull().default([]),
    language: text('language'),
    enqueuedAt: ts('enqueued_at').notNull().defaultNow(),
  },
  (t) => [index('match_queue_enqueued_idx').on(t.enqueuedAt)],
);

/** Pairs made, for the re-match cooldown; `userLow` < `userHigh` so a pair has one spelling. */
export const matchHistory = pgTable(
  'match_history',
  {
    id: serial('id').primaryKey(),
    userLow: integer('user_low')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    userHigh: integer('user_high')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    roomId: integer('room_id').references(() => rooms.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('match_history_pair_idx').on(t.userLow, t.userHigh, t.createdAt),
    index('match_history_high_idx').on(t.userHigh),
    check('match_history_order', sql`${t.userLow} < ${t.userHigh}`),
  ],
);
