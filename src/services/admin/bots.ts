import { eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { bots } from '../../db/schema';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { createBot } from '../bots/bots';
import { findUserByUsername } from '../users/accounts';
import { BOT_TYPE } from '../users/policy';
import { type AdminActor, inTransaction } from './hierarchy';

// Bot management of API.md §10: create (the API key is shown once), set type, set hourly limit.

export const BOT_TYPE_NAMES = {
  official: BOT_TYPE.OFFICIAL,
  verified: BOT_TYPE.VERIFIED,
  community: BOT_TYPE.COMMUNITY,
} as const;
export type BotTypeName = keyof typeof BOT_TYPE_NAMES;

const typeName = (value: number) =>
  (Object.keys(BOT_TYPE_NAMES) as BotTypeName[]).find((k) => BOT_TYPE_NAMES[k] === value) ?? String(value);

export async function adminCreateBot(opts: {
  db: Db;
  actor: AdminActor;
  name: string;
  type?: BotTypeName | undefined;
  rateLimitPerHour?: number | undefined;
  owner?: string | undefined;
}) {
  return inTransaction(opts.db, async (tx) => {
    let ownerUserId: number | null = null;
    if (opts.owner !== undefined) {
      const owner = await findUserByUsername(tx, opts.owner);
      if (!owner) throw new AppError('NOT_FOUND', 'User not found');
      ownerUserId = owner.id;
    }
    const { bot, apiKey } = await createBot(tx, {
      name: opts.name,
      type: BOT_TYPE_NAMES[opts.type ?? 'community'],
      rateLimitPerHour: opts.rateLimitPerHour,
      ownerUserId,
    });
    // Never the key itself: only its prefix is recorded.
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'bot.create',
      targetType: 'bot',
      targetId: bot.id,
      details: {
        name: bot.name,
        type: typeName(bot.type),
        rate_limit_per_hour: bot.rateLimitPerHour,
        owner_user_id: ownerUserId,
        key_prefix: bot.apiKeyPrefix,
      },
    });
    return { id: bot.id, name: bot.name, api_key: apiKey };
  });
}

async function updateBot(
  db: Db,
  actor: AdminActor,
  botId: number,
  action: string,
  change: (bot: typeof bots.$inferSelect) => {
    set: Partial<typeof bots.$inferInsert>;
    details: Record<string, unknown>;
  },
) {
  return inTransaction(db, async (tx) => {
    const [bot] = await tx.select().from(bots).where(eq(bots.id, botId)).limit(1).for('update');
    if (!bot) throw new AppError('NOT_FOUND', 'Bot not found');
    const { set, details } = change(bot);
    const [after] = await tx
      .update(bots)
      .set({ ...set, updatedAt: new Date() })
      .where(eq(bots.id, botId))
      .returning();
    await writeAudit(tx, { actor: auditActorOf(actor), action, targetType: 'bot', targetId: botId, details });
    return botView(after!);
  });
}

export const setBotType = (opts: { db: Db; actor: AdminActor; botId: number; type: BotTypeName }) =>
  updateBot(opts.db, opts.actor, opts.botId, 'bot.set_type', (bot) => ({
    set: { type: BOT_TYPE_NAMES[opts.type] },
    details: { from: typeName(bot.type), to: opts.type },
  }));

export const setBotRateLimit = (opts: { db: Db; actor: AdminActor; botId: number; perHour: number }) =>
  updateBot(opts.db, opts.actor, opts.botId, 'bot.set_rate_limit', (bot) => ({
    set: { rateLimitPerHour: opts.perHour },
    details: { from: bot.rateLimitPerHour, to: opts.perHour },
  }));

const botView = (bot: typeof bots.$inferSelect) => ({
  id: bot.id,
  name: bot.name,
  type: typeName(bot.type),
  rate_limit_per_hour: bot.rateLimitPerHour,
  owner_user_id: bot.ownerUserId,
  updated_at: bot.updatedAt.toISOString(),
});
