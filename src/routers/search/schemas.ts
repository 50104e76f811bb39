import { z } from 'zod';
import { SEARCH_LIMITS, SEARCH_SCOPES } from '../../services/search/types';
import { ZInteger as integer, MAX_ID, ZIsoDate } from '../fields';

// Query parameters and response of GET /api/search (seed 002 "Message Search", API.md §8).

// Date, or date-time with optional seconds, fraction and zone (no zone means UTC).
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

const isoDateParam = (field: string, what: string) =>
  z
    .string()
    .refine((s) => ISO_DATE.test(s) && !Number.isNaN(Date.parse(s.replace(' ', 'T'))), {
      message: `${field} must be an ISO 8601 date`,
    })
    .describe(`${what} (ISO 8601 date or date-time, UTC when no zone is given)`);

export const ZSearchInput = z.object({
  q: z
    .string()
    .trim()
    .min(SEARCH_LIMITS.Q_MIN)
    .max(SEARCH_LIMITS.Q_MAX)
    .describe('Search query: messages containing every word (2–200 characters)'),
  scope: z.enum(SEARCH_SCOPES).default('all').describe('all (default), channels or dms'),
  channel_id: integer().min(1).max(MAX_ID).describe('Only this channel').optional(),
  conversation_id: integer().min(1).max(MAX_ID).describe('Only this DM conversation').optional(),
  from: z.string().trim().min(1).max(32).describe('Sender username (case-insensitive)').optional(),
  has: z.enum(['image']).describe('image: only messages with an image attachment').optional(),
  before: isoDateParam('before', 'Only messages sent before this time').optional(),
  after: isoDateParam('after', 'Only messages sent after this time').optional(),
  limit: integer().min(1).max(SEARCH_LIMITS.PAGE_MAX).default(SEARCH_LIMITS.PAGE_DEFAULT),
  offset: integer().min(0).max(1_000_000).default(0),
});

const author = {
  id: z.number().int(),
  user_id: z.number().int().nullable().describe('null for an anonymous message'),
  username: z.string().describe('"Anonymous" unless the caller is the author or a moderator+'),
  message: z.string(),
  created_at: ZIsoDate,
};

export const ZChannelHit = z.object({
  ...author,
  source: z.literal('channel'),
  channel_id: z.number().int(),
  channel_name: z.string(),
});

export const ZDmHit = z.object({
  ...author,
  source: z.literal('dm'),
  conversation_id: z.number().int(),
  conversation_name: z.string(),
});

export const ZSearchPage = z.object({
  results: z.array(z.discriminatedUnion('source', [ZChannelHit, ZDmHit])),
  total: z
    .number()
    .int()
    .describe(`Matches found (at most ${SEARCH_LIMITS.WINDOW} newest per source are considered)`),
  limit: z.number().int(),
  offset: z.number().int(),
});
