import { eq, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { bots } from '../../db/schema';
import { ownerOf, requireBotWithOwner } from './directory';
import { fullBotView } from './views';

// The calling bot's own profile (GET /bot/me, POST /bot/me/update).

export type BotStatsPatch = { users?: number | undefined; latency_ms?: number | undefined };

/** GET /bot/me: the full view, owner and limits included. */
export async function getOwnBot(db: Db, opts: { botId: number }) {
  const row = await requireBotWithOwner(db, opts.botId);
  return fullBotView(row.bot, ownerOf(row));
}

/**
 * POST /bot/me/update: info and/or self-reported stats in one call. Omitted fields keep their
 * value, null clears avatar and description; stats are merged key by key in one statement, so two
 * reports racing (users from one worker, latency from another) both survive.
 */
export async function updateOwnBot(
  db: Db,
  opts: {
    botId: number;
    name?: string | undefined;
    avatar?: string | null | undefined;
    description?: string | null | undefined;
    stats?: BotStatsPatch | undefined;
  },
) {
  const stats = Object.fromEntries(Object.entries(opts.stats ?? {}).filter(([, v]) => v !== undefined));
  const [updated] = await db
    .update(bots)
    .set({
      ...(opts.name !== undefined && { name: opts.name }),
      ...(opts.avatar !== undefined && { avatar: opts.avatar || null }),
      ...(opts.description !== undefined && { description: opts.description || null }),
      ...(Object.keys(stats).length > 0 && {
        stats: sql`${bots.stats} || ${JSON.stringify(stats)}::jsonb`,
      }),
      updatedAt: new Date(),
    })
    .where(eq(bots.id, opts.botId))
    .returning({ id: bots.id });
  if (!updated) throw new AppError('NOT_FOUND', 'Bot not found');
  return getOwnBot(db, { botId: opts.botId });
}
