import { z } from 'zod';
import { DEFAULT_ROOM_TIMEOUT_MINUTES } from '../../services/rooms/moderation';
import { ROOM_MODERATION_ACTIONS } from '../../services/rooms/moderation-log';
import { MAX_ID, typed, ZId, ZIsoDate } from '../fields';
import { ZPageInfo, ZRoomPage } from './schemas';

// Inputs and outputs of per-room moderation (API.md §5); outputs mirror
// services/rooms/moderation-log.ts.

/** 30 days: the longest a room mute or timeout may be set for. */
export const MAX_RESTRICTION_MINUTES = 43_200;

// ── outputs ──────────────────────────────────────────────────────────────────────────────

export const ZModerationEntry = z.object({
  id: z.number().int(),
  room_id: z.number().int(),
  action: z.enum(ROOM_MODERATION_ACTIONS),
  user_id: z.number().int().nullable().describe('The target; null for `clear`'),
  username: z.string().nullable(),
  actor_id: z.number().int().nullable(),
  actor_username: z.string().nullable(),
  reason: z.string().nullable(),
  duration_minutes: z.number().int().nullable(),
  expires_at: ZIsoDate.nullable().describe(
    'When a mute, timeout or ban ends; null for one until lifted, and for other actions',
  ),
  created_at: ZIsoDate,
});

export const ZModerationLog = z.object({
  entries: z.array(ZModerationEntry).describe('Newest first'),
  ...ZPageInfo,
});

// ── inputs ───────────────────────────────────────────────────────────────────────────────

const reason = z.string().trim().max(500).optional();

/** A whole number from the JSON body: a missing field reads "is required", `"5"` is refused. */
const bodyInt = (min: number, max: number) =>
  z.number(typed('a number')).int({ error: 'must be an integer' }).min(min).max(max);

const userId = bodyInt(1, MAX_ID);

const minutes = bodyInt(1, MAX_RESTRICTION_MINUTES).describe(`1 to ${MAX_RESTRICTION_MINUTES} (30 days)`);

/** The body of every action (API.md §5): `{user_id, reason?, duration_minutes?}`. */
const moderationInput = (duration: string) =>
  z
    .object({ id: ZId, user_id: userId, reason, duration_minutes: minutes.optional().describe(duration) })
    .strict();

/** kick, warn, unban, unmute: `duration_minutes` is accepted (validated) and has no effect. */
export const ZModerationInput = moderationInput('Accepted for every action; this one ignores it');

export const ZMuteInput = moderationInput('Omit: until unmuted');

export const ZBanInput = moderationInput('Omit: until unbanned; given: the ban lapses by itself');

export const ZTimeoutInput = moderationInput(`Omit: ${DEFAULT_ROOM_TIMEOUT_MINUTES} minutes`);

export const ZModerationLogInput = ZRoomPage;
