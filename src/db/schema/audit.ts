import { bigserial, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { users } from './users';

/** Every admin action: actor, target, action, reason, time (API.md §10). */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    actorUserId: integer('actor_user_id').references(() => users.id, { onDelete: 'set null' }),
    /** Username at the time, or `system` for the CLI's built-in owner. */
    actorLabel: text('actor_label').notNull(),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    reason: text('reason'),
    details: jsonb('details').$type<Record<string, unknown>>(),
    /**
     * The channel or room the action concerns, so their moderators can read their part of the log
     * (seed 002 "Audit Log MODERATOR+"). No foreign keys: entries outlive what they describe.
     */
    channelId: integer('channel_id'),
    roomId: integer('room_id'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('audit_log_target_idx').on(t.targetType, t.targetId, t.action),
    index('audit_log_created_idx').on(t.createdAt),
    index('audit_log_actor_idx').on(t.actorUserId),
    index('audit_log_channel_idx').on(t.channelId),
    index('audit_log_room_idx').on(t.roomId),
  ],
);
