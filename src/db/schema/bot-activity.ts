import { bigserial, boolean, doublePrecision, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { bots } from './bots';
import { ts } from './columns';
import { users } from './users';

/**
 * Command executions reported by bots (POST /bot/batch), the source of the command figures of
 * /statistics/bots and /statistics/app and of the bot half of `active_24h`.
 */
export const botCommands = pgTable(
  'bot_commands',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    botId: integer('bot_id')
      .notNull()
      .references(() => bots.id, { onDelete: 'cascade' }),
    /** The Portal user, when the bot named one linked to it (directly or by platform id). */
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    platformUserId: text('platform_user_id'),
    command: text('command').notNull(),
    success: boolean('success').notNull(),
    latencyMs: doublePrecision('latency_ms'),
    /** When the bot ran the command (reported; at most 7 days back), else when Portal received it. */
    executedAt: ts('executed_at').notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [
    index('bot_commands_executed_idx').on(t.executedAt),
    index('bot_commands_bot_executed_idx').on(t.botId, t.executedAt),
    index('bot_commands_user_executed_idx').on(t.userId, t.executedAt),
  ],
);
