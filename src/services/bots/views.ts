import type { Actor } from '../auth/actor';
import { BOT_TYPE, LEVEL } from '../users/policy';
import type { BotRow } from './bots';

// What each caller sees of a bot (seed 003): everyone the public profile; Admin+ (and the bot
// itself, GET /bot/me) the full detail with owner, rate limit and type.

export type BotOwner = { id: number; username: string } | null;

const iso = (d: Date) => d.toISOString();

/** Anyone: no owner, no limits, no type beyond "verified" (Official or Verified). */
export function publicBotView(bot: BotRow) {
  return {
    id: bot.id,
    name: bot.name,
    avatar: bot.avatar,
    description: bot.description,
    verified: bot.type <= BOT_TYPE.VERIFIED,
    created_at: iso(bot.createdAt),
    stats: { users: bot.stats.users ?? null },
  };
}

/** Admin+ and the bot itself. */
export function fullBotView(bot: BotRow, owner: BotOwner) {
  return {
    ...publicBotView(bot),
    type: bot.type,
    owner,
    rate_limit_per_hour: bot.rateLimitPerHour,
    platform: bot.platform,
    api_key_prefix: bot.apiKeyPrefix,
    stats: { users: bot.stats.users ?? null, latency_ms: bot.stats.latency_ms ?? null },
    updated_at: iso(bot.updatedAt),
  };
}

/** Admin and Owner users (keys of such users included) and the CLI's system owner; never bots. */
export const seesBotDetails = (viewer: Actor | null) =>
  viewer !== null && viewer.kind !== 'bot' && viewer.level >= LEVEL.ADMIN;
