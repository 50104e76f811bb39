import { sql } from 'drizzle-orm';
import { boolean, check, integer, jsonb, pgTable, serial, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { users } from './users';

/**
 * Auto-moderation rules (seed 002 "Auto-Moderation"), configured by Admins through the admin router
 * and CLI. `config` is the kind's settings, validated by services/automod/schemas.ts on the way in.
 */
export const automodRules = pgTable(
  'automod_rules',
  {
    id: serial('id').primaryKey(),
    name: text('name').notNull(),
    /** `words`, `regex`, `links`, `invites`, `mentions`, `caps` or `flood`. */
    kind: text('kind').notNull(),
    config: jsonb('config').$type<Record<string, unknown>>().notNull(),
    /** `block`, `delete`, `timeout` or `warn`. */
    action: text('action').notNull(),
    /** Length of the site timeout when `action` is `timeout`. */
    timeoutMinutes: integer('timeout_minutes'),
    /** Where the rule applies: any of `channel`, `dm`, `room`. */
    contexts: text('contexts').array().notNull(),
    /** Only these channels (null: every channel). Rooms and DMs are not limited by it. */
    channelIds: integer('channel_ids').array(),
    enabled: boolean('enabled').notNull().default(true),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('automod_rules_name_idx').on(sql`lower(${t.name})`),
    check(
      'automod_rules_kind',
      sql`${t.kind} in ('words', 'regex', 'links', 'invites', 'mentions', 'caps', 'flood')`,
    ),
    check('automod_rules_action', sql`${t.action} in ('block', 'delete', 'timeout', 'warn')`),
  ],
);
