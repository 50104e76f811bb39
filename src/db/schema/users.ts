import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  pgTable,
  primaryKey,
  serial,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { ts } from './columns';

/** Accounts. Levels, states and tiers are the integer values of seed 003. */
export const users = pgTable(
  'users',
  {
    id: serial('id').primaryKey(),
    username: text('username').notNull(),
    /** scrypt hash; null for accounts that only sign in with one-time codes. */
    passwordHash: text('password_hash'),
    permissionLevel: integer('permission_level').notNull().default(0),
    state: integer('state').notNull().default(0),
    stateReason: text('state_reason'),
    stateExpiresAt: ts('state_expires_at'),
    subscriptionTier: integer('subscription_tier').notNull().default(0),
    subscriptionExpiresAt: ts('subscription_expires_at'),
    /** Service access scopes (`access:*`, `access:<category>`), comma-separated. */
    scopes: text('scopes').notNull().default('access:*'),
    nickname: text('nickname'),
    avatarColor: text('avatar_color').notNull().default('#3b82f6'),
    avatarEmoji: text('avatar_emoji'),
    avatarInitials: text('avatar_initials'),
    status: text('status').notNull().default('online'),
    statusMessage: text('status_message'),
    anonymous: boolean('anonymous').notNull().default(false),
    /** AES-256-GCM encrypted TOTP secret; `totpPendingSecret` holds one being set up. */
    totpSecret: text('totp_secret'),
    totpPendingSecret: text('totp_pending_secret'),
    totpEnabled: boolean('totp_enabled').notNull().default(false),
    /** Last accepted TOTP time step, so a code cannot be replayed within its window. */
    totpLastStep: bigint('totp_last_step', { mode: 'number' }),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('users_username_lower_idx').on(sql`lower(${t.username})`),
    index('users_subscription_expiry_idx').on(t.subscriptionExpiresAt),
  ],
);

export const backupCodes = pgTable(
  'backup_codes',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    usedAt: ts('used_at'),
  },
  (t) => [index('backup_codes_user_idx').on(t.userId)],
);

/** Who blocked whom (API.md §1 blocking; DMs and matchmaking read it both ways). */
export const blocks = pgTable(
  'blocks',
  {
    blockerId: integer('blocker_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    blockedId: integer('blocked_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.blockerId, t.blockedId] }), index('blocks_blocked_idx').on(t.blockedId)],
);

/** One row per registration, keyed by an HMAC of the client IP (1 account per IP per 24 h). */
export const registrations = pgTable(
  'registrations',
  {
    id: serial('id').primaryKey(),
    ipHash: text('ip_hash').notNull(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('registrations_ip_idx').on(t.ipHash, t.createdAt)],
);

/** Warnings, timeouts and bans of seed 003 (GET /users/me/punishments); rooms add their own. */
export const punishments = pgTable(
  'punishments',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    actorUserId: integer('actor_user_id').references(() => users.id, { onDelete: 'set null' }),
    kind: text('kind').notNull(),
    reason: text('reason'),
    expiresAt: ts('expires_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('punishments_user_idx').on(t.userId, t.createdAt)],
);

export const announcements = pgTable('announcements', {
  id: serial('id').primaryKey(),
  title: text('title').notNull(),
  message: text('message').notNull(),
  createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
  createdAt: ts('created_at').notNull().defaultNow(),
  expiresAt: ts('expires_at'),
  /** The `announcement` notification's id, shared by every recipient, so later users get it too. */
  notificationId: integer('notification_id'),
});
