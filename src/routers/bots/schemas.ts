import { z } from 'zod';
import { ZIsoDate } from '../fields';
import { ZPageInput, ZUserIdInput, ZUserSearchInput } from '../users/schemas';

// Bot views of API.md §2 (services/bots/views.ts produces them): public for everyone, full for
// Admin+ (GET /bots*) and for the bot itself (GET /bot/me).

export const ZBotPublic = z.object({
  id: z.number().int(),
  name: z.string(),
  avatar: z.string().nullable().describe('An http(s) URL or an emoji'),
  description: z.string().nullable(),
  verified: z.boolean().describe('Official or Verified bot'),
  created_at: ZIsoDate,
  stats: z.object({ users: z.number().int().nullable().describe('Self-reported by the bot') }),
});

export const ZBotFull = ZBotPublic.extend({
  type: z.number().int().describe('Official 1, Verified 2, Community 3'),
  owner: z.object({ id: z.number().int(), username: z.string() }).nullable(),
  rate_limit_per_hour: z.number().int(),
  platform: z.string(),
  api_key_prefix: z.string().describe('First characters of the X-API-Key, to recognise it'),
  stats: z.object({
    users: z.number().int().nullable(),
    latency_ms: z.number().nullable(),
  }),
  updated_at: ZIsoDate,
});

export const ZBotView = z.union([ZBotFull, ZBotPublic]);

export const ZBotList = z.object({
  bots: z.array(ZBotView),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const ZBotPageInput = ZPageInput;

export const ZBotSearchInput = ZPageInput.extend({ q: ZUserSearchInput.shape.q });

/** Ids are PostgreSQL integers: a larger one is a 400, not a failed query. */

/** `/bots/{id}`: the path-id rules of `/users/{id}`, within the integer range. */
export const ZBotIdInput = z.object({ id: ZUserIdInput.shape.id });
