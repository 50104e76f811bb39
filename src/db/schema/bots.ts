import { index, integer, jsonb, pgTable, serial, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { users } from './users';

/** Bots of seeds 000/003: types Official 1, Verified 2, Community 3; X-API-Key credentials. */
export const bots = pgTable(
  'bots',
  {
    id: serial('id').primaryKey(),
    name: text('name').notNull(),
    ownerUserId: integer('owner_user_id').references(() => users.id, { onDelete: 'set null' }),
    type: integer('type').notNull().default(3),
    platform: text('platform').notNull().default('generic'),
    avatar: text('avatar'),
    description: text('description'),
    rateLimitPerHour: integer('rate_limit_per_hour').notNull().default(3600),
    apiKeyHash: text('api_key_hash').notNull(),
    apiKeyPrefix: text('api_key_prefix').notNull(),
    /** Self-reported figures from POST /bot/me/update (users, latency). */
    stats: jsonb('stats').$type<{ users?: number; latency_ms?: number }>().notNull().default({}),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('bots_api_key_hash_idx').on(t.apiKeyHash)],
);

/** A Portal user's identity on a bot's platform (POST /bot/users); codes are delivered through it. */
export const botUserLinks = pgTable(
  'bot_user_links',
  {
    botId: integer('bot_id')
      .notNull()
      .references(() => bots.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    platformUserId: text('platform_user_id').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('bot_user_links_platform_idx').on(t.botId, t.platformUserId),
    index('bot_user_links_user_idx').on(t.userId),
  ],
);
