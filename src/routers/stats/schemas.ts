import { z } from 'zod';
import { ZIsoDate } from '../fields';

// Outputs of API.md §3 (services/stats produces them). Every cached figure says when it was computed.

const n = () => z.number().int();
const generatedAt = ZIsoDate.describe('When these figures were computed (answers are cached briefly)');

export const ZUserStatistics = z.object({
  total: n(),
  active_24h: n().describe(
    'Distinct users who signed in, used an API key, or ran a bot-reported command in the last 24 h',
  ),
  new_24h: n(),
  new_7d: n(),
  by_level: z.object({ user: n(), admin: n(), owner: n() }),
  by_tier: z
    .object({ basic: n(), trial: n(), premium: n(), lifetime: n() })
    .describe('Effective tier: an expired Trial or Premium counts as Basic'),
  banned: n(),
  timed_out: n().describe('Timeouts that have not ended'),
  generated_at: generatedAt,
});

export const ZBotStatistics = z.object({
  total: n(),
  by_type: z.object({ official: n(), verified: n(), community: n() }),
  commands_24h: n().describe('Bot-reported commands executed in the last 24 h'),
  generated_at: generatedAt,
});

export const ZAppStatistics = z.object({
  users: n(),
  bots: n(),
  commands_total: n(),
  commands_24h: n(),
  commands_per_bot_per_day: z
    .array(
      z.object({ bot_id: n(), name: z.string(), day: z.string().describe('YYYY-MM-DD (UTC)'), count: n() }),
    )
    .describe('Today and the 6 days before (UTC), days without commands omitted'),
  uptime_seconds: n(),
  version: z.string(),
  generated_at: generatedAt,
});

export const ZChatStatistics = z.object({
  total_chats: n().describe('Rooms (matchmaking direct chats not included)'),
  direct_chats: n().describe('1-on-1 chats made by matchmaking'),
  active_browsers: n().describe('Shared browsers running now, on every node'),
  new_chats_24h: n(),
  node: z
    .object({ active_browsers: n(), capacity: n().describe('MAX_BROWSERS of this node') })
    .describe("This node's browser runtime"),
  generated_at: generatedAt,
});

export const ZLiveStats = z.object({
  live_streams: n(),
  online_users: n().describe('Users connected to /ws/portal'),
});
