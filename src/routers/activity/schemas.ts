import { z } from 'zod';
import { ACTIVITY_KINDS, ACTIVITY_LIMITS } from '../../services/activity/activity';
import { ZInteger, ZIsoDate } from '../fields';

// GET /api/activity (seed 002 "Activity Feed"): `limit` 1–50, default 20.

export const ZActivityInput = z.object({
  limit: ZInteger().min(1).max(ACTIVITY_LIMITS.MAX).default(ACTIVITY_LIMITS.DEFAULT),
});

export const ZActivityFeed = z.object({
  activities: z.array(
    z.object({
      id: z.number().int(),
      user_id: z.number().int().nullable(),
      username: z.string().nullable(),
      action: z.string().describe(`One of ${ACTIVITY_KINDS.join(', ')}`),
      details: z.string(),
      created_at: ZIsoDate,
    }),
  ),
});
