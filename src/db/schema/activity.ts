import { bigserial, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { users } from './users';

/**
 * The activity feed of seed 002 (`GET /api/activity`): what users did (signed in, created a
 * channel, started a stream, ...), one row per action. Admins read all of it, users their own.
 * Kept apart from the audit log, which records moderation and admin actions on others.
 */
export const activityLog = pgTable(
  'activity_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'cascade' }),
    /** A kind of services/activity/kinds.ts, e.g. `stream_started`. */
    action: text('action').notNull(),
    /** One human-readable line, e.g. "Started streaming". */
    details: text('details').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('activity_log_user_idx').on(t.userId, t.id),
    index('activity_log_created_idx').on(t.createdAt),
  ],
);
