import { jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Operator settings changed at run time through the admin router (API.md §8 "server settings"). */
export const appSettings = pgTable('app_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});
