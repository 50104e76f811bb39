import { z } from 'zod';
import { ZInteger as integer, MAX_ID, typed, ZIsoDate } from '../fields';

// Inputs and outputs of the users router (API.md §1 "Users"); output shapes mirror
// services/users/views.ts so the REST layer documents exactly what the views produce.

// ── outputs ──────────────────────────────────────────────────────────────────────────────

export const ZAvatar = z.object({
  color: z.string().describe('#RRGGBB'),
  emoji: z.string().nullable(),
  initials: z.string().nullable(),
});

export const ZPublicProfile = z.object({
  id: z.number().int(),
  username: z.string(),
  nickname: z.string().nullable(),
  avatar: ZAvatar,
  status: z.string(),
  status_message: z.string().nullable(),
  is_admin: z.boolean(),
  created_at: ZIsoDate,
});

export const ZSubscription = z.object({
  tier: z.number().int().describe('Basic 0, Trial 1, Premium 2, Lifetime 3'),
  has_premium: z.boolean(),
  subscription_expires_at: ZIsoDate.nullable(),
  chat_slots: z.number().int().nullable().describe('null means unlimited (Owners)'),
});

export const ZOwnProfile = ZPublicProfile.extend({
  permission_level: z.number().int().describe('User 0, Admin 2, Owner 3'),
  scopes: z.string(),
  state: z.number().int().describe('Active 0, Timeout 1, Banned 2'),
  anonymous: z.boolean(),
  subscription: ZSubscription,
  totp_enabled: z.boolean(),
});

export const ZFullProfile = ZOwnProfile.extend({
  state_reason: z.string().nullable(),
  state_expires_at: ZIsoDate.nullable(),
  updated_at: ZIsoDate,
});

export const ZSubscriptionEvent = z.object({
  id: z.number().int(),
  action: z.string(),
  actor: z.string().describe('Username of the admin at the time, or "system"'),
  reason: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  created_at: ZIsoDate,
});

/** Admin+ view of GET /users/{id}: no redaction, with the subscription history (seed 003). */
export const ZAdminUserView = ZFullProfile.extend({ subscription_history: z.array(ZSubscriptionEvent) });

export const ZUserView = z.union([ZAdminUserView, ZPublicProfile]);

export const ZUserSearchResult = z.object({
  users: z.array(z.union([ZFullProfile, ZPublicProfile])),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const ZPunishment = z.object({
  id: z.number().int(),
  kind: z.string(),
  reason: z.string().nullable(),
  expires_at: ZIsoDate.nullable(),
  created_at: ZIsoDate,
});

export const ZPunishmentList = z.object({
  punishments: z.array(ZPunishment),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const ZChatUserList = z.object({
  users: z.array(z.object({ id: z.number().int(), username: z.string(), nickname: z.string().nullable() })),
});

export const ZBlockList = z.object({
  blocked_users: z.array(z.object({ id: z.number().int(), username: z.string(), blocked_at: ZIsoDate })),
});

export const ZAnnouncementList = z.object({
  announcements: z.array(
    z.object({
      id: z.number().int(),
      title: z.string(),
      message: z.string(),
      created_at: ZIsoDate,
      expires_at: ZIsoDate.nullable(),
    }),
  ),
});

// ── inputs ───────────────────────────────────────────────────────────────────────────────

const limitField = (max: number, fallback: number) => integer().min(1).max(max).default(fallback);
const offsetField = () => integer().min(0).default(0);
const text = () => z.string(typed('a string'));

/** A path id (REST sends strings). */
const ZPathId = integer().min(1).max(MAX_ID);

export const ZPageInput = z.object({ limit: limitField(100, 50), offset: offsetField() });

/** Seed 002 clients know no paging here, so one default page holds a whole block list. */
export const ZBlockPageInput = z.object({ limit: limitField(1000, 1000), offset: offsetField() });

export const ZUserIdInput = z.object({ id: ZPathId });

export const ZBlockTargetInput = z.object({ user_id: ZPathId });

export const ZUserSearchInput = z.object({
  q: text().trim().min(1).max(100),
  limit: limitField(100, 50),
  offset: offsetField(),
});

export const ZChatUserSearchInput = z.object({ q: text().trim().min(1).max(100) });

export const USER_STATUSES = ['online', 'away', 'busy', 'dnd', 'offline'] as const;

export const ZSetStatusInput = z.object({
  // Missing reads "status is required"; a wrong value falls back to the shared "must be one of".
  status: z.enum(USER_STATUSES, {
    error: (issue) => (issue.input === undefined ? 'is required' : undefined),
  }),
  status_message: text().trim().max(100).nullable().optional().describe('Omit to keep, null or "" to clear'),
});

export const ZSetNicknameInput = z.object({
  nickname: text()
    .trim()
    .max(32)
    .refine((s) => s === '' || [...s].length >= 2, 'must be at least 2 characters')
    .regex(/^[\p{L}\p{N} -]*$/u)
    .describe('2–32 letters, digits, spaces or dashes; "" clears'),
});

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;

/** One emoji: a single grapheme cluster that is pictographic (flags and keycaps included). */
const isOneEmoji = (s: string) => [...segmenter.segment(s)].length === 1 && EMOJI.test(s);

export const ZSetAvatarInput = z.object({
  color: text()
    .regex(/^#[0-9A-Fa-f]{6}$/)
    .optional()
    .describe('#RRGGBB; omit to keep'),
  emoji: text()
    .max(16)
    .refine((s) => s === '' || isOneEmoji(s), 'must be a single emoji')
    .nullable()
    .optional()
    .describe('One emoji; null or "" clears, omit to keep'),
  initials: text()
    .trim()
    .min(1)
    .max(2)
    .regex(/^[\p{L}\p{N}]+$/u)
    .optional()
    .describe('1–2 letters or digits; omit to keep'),
});

export const ZSetAnonymousInput = z.object({
  // The transform keeps trpc-to-openapi from switching on coercion for this field, which would
  // turn a missing or "false" value into a boolean instead of a validation error.
  anonymous: z.boolean(typed('a boolean')).transform((b) => b),
});
