import { z } from 'zod';
import { ZInterests, ZLanguage } from '../../services/match/types';
import { ZIsoDate } from '../fields';

// Inputs and outputs of the match router (API.md §5 "Matchmaking"); outputs mirror
// services/match/queue.ts. The `match_found` frame on /ws/portal carries the same partner shape.

// ── inputs ───────────────────────────────────────────────────────────────────────────────

export const ZEnqueueInput = z
  .object({ interests: ZInterests.optional(), language: ZLanguage.nullish() })
  .strict()
  // A bodyless POST is a plain "find me anyone".
  .default({});

// ── outputs ──────────────────────────────────────────────────────────────────────────────

export const ZMatchPartner = z.object({ id: z.number().int(), username: z.string() });

const queuedFields = {
  queued_at: ZIsoDate,
  waiting_seconds: z.number().int().describe('Seconds since the user first entered the queue'),
  interests: z.array(z.string()),
  language: z.string().nullable(),
};

const matchedFields = {
  room_id: z.number().int().describe('The 1-on-1 direct chat (a room of kind direct)'),
  partner: ZMatchPartner,
};

export const ZEnqueueResult = z.union([
  z.object({ status: z.literal('queued'), ...queuedFields }),
  z.object({ status: z.literal('matched'), queued_at: ZIsoDate, ...matchedFields }),
]);

export const ZMatchStatus = z.union([
  z.object({ status: z.literal('idle') }),
  z.object({ status: z.literal('queued'), ...queuedFields }),
  z.object({ status: z.literal('matched'), ...matchedFields }),
]);

export const ZDequeueResult = z.object({
  success: z.literal(true),
  removed: z.boolean().describe('false when the caller was not queued'),
});
