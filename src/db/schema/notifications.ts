import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, primaryKey, serial, text } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { users } from './users';

/**
 * The notification inbox (API.md §4). `id` names one notification event: every recipient of a
 * broadcast (or of one multi-user notify) gets a row with the same id, so one realtime message
 * carries an id that is right for every socket it reaches. Rows are unique per (user, id), and
 * every read goes through the user, so a user only ever addresses their own rows.
 */
export const notifications = pgTable(
  'notifications',
  {
    id: serial('id').notNull(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    title: text('title').notNull(),
    message: text('message').notNull(),
    link: text('link'),
    data: jsonb('data').$type<Record<string, unknown>>(),
    readAt: ts('read_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.id] }),
    // Unread lists and counts: user, then NULL read_at, newest id first.
    index('notifications_user_read_idx').on(t.userId, t.readAt, t.id),
    check('notifications_title_len', sql`char_length(${t.title}) <= 200`),
    check('notifications_message_len', sql`char_length(${t.message}) <= 4000`),
  ],
);
