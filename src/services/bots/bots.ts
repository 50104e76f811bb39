import { randomToken, sha256Hex } from '../../core/crypto';
import type { Db } from '../../db/client';
import { bots } from '../../db/schema';
import { BOT_KEY_PREFIX } from '../auth/resolve';
import { BOT_TYPE } from '../users/policy';

export type BotRow = typeof bots.$inferSelect;

/** Creates a bot and returns its X-API-Key once; only the hash is kept. */
export async function createBot(
  db: Db,
  opts: {
    name: string;
    type?: number;
    rateLimitPerHour?: number;
    ownerUserId?: number | null;
    platform?: string;
  },
) {
  const apiKey = `${BOT_KEY_PREFIX}${randomToken(30)}`;
  const [bot] = await db
    .insert(bots)
    .values({
      name: opts.name,
      type: opts.type ?? BOT_TYPE.COMMUNITY,
      ...(opts.rateLimitPerHour !== undefined && { rateLimitPerHour: opts.rateLimitPerHour }),
      ownerUserId: opts.ownerUserId ?? null,
      platform: opts.platform ?? 'generic',
      apiKeyHash: sha256Hex(apiKey),
      apiKeyPrefix: apiKey.slice(0, 9),
    })
    .returning();
  return { bot: bot!, apiKey };
}
