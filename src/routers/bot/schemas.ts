import { z } from 'zod';
import { MAX_BATCH_ITEMS } from '../../services/bots/batch';
import { isEmoji, isHttpUrl } from '../../services/bots/user-links';
import { ZDisplayName, ZUsername } from '../fields';
import { ZBlockTargetInput, ZPublicProfile } from '../users/schemas';

// Inputs and outputs of the bot API (API.md §2) beyond login-code delivery.

const anyFieldGiven = (o: Record<string, unknown>) => Object.values(o).some((v) => v !== undefined);

export const ZBotAvatar = z
  .string()
  .trim()
  .max(500)
  .refine((v) => v === '' || isHttpUrl(v) || isEmoji(v), 'avatar must be an http(s) URL or an emoji');

export const ZUpdateOwnBotInput = z
  .object({
    name: ZDisplayName.optional(),
    avatar: ZBotAvatar.nullable().optional().describe('null or "" clears'),
    description: z.string().trim().max(500).nullable().optional().describe('null or "" clears'),
    stats: z
      .object({
        users: z.number().int().min(0).optional().describe('Users the bot serves'),
        latency_ms: z.number().min(0).optional().describe('Current latency to its platform'),
      })
      .refine(anyFieldGiven, 'stats must include users or latency_ms')
      .optional(),
  })
  .refine(anyFieldGiven, 'At least one of name, avatar, description or stats is required');

export const ZBatchInput = z.object({
  items: z
    .array(z.looseObject({}))
    .max(MAX_BATCH_ITEMS)
    .describe(
      'Command executions, each {command: 1–64 of [a-z0-9_-], success: boolean, user_id?: a Portal user ' +
        'linked to this bot, or platform_user_id?: string, latency_ms?: number ≥ 0, executed_at?: ISO 8601 ' +
        'not in the future and at most 7 days old}. Each item is validated on its own.',
    ),
});

export const ZBatchResult = z.object({
  accepted: z.number().int(),
  rejected: z.number().int(),
  results: z.array(
    z.discriminatedUnion('ok', [
      z.object({ index: z.number().int(), ok: z.literal(true) }),
      z.object({
        index: z.number().int(),
        ok: z.literal(false),
        error: z.string().describe('Why this item was rejected: its first invalid field'),
      }),
    ]),
  ),
});

export const ZLinkedUser = ZPublicProfile.extend({
  state: z.number().int().describe('Active 0, Timeout 1 (may not run commands), Banned 2'),
  state_expires_at: z.string().nullable().describe('End of a timeout'),
  has_premium: z.boolean(),
  platform_user_ids: z.array(z.string()).describe("The user's identities on this bot's platform"),
});

export const ZLinkedUserResult = z.object({ user: ZLinkedUser });

/** `/bot/users/{user_id}`: the path-id rules of `/api/blocks/{user_id}`, within the integer range. */
export const ZLinkedUserInput = z.object({ user_id: ZBlockTargetInput.shape.user_id });

export const ZUpdateLinkedUserInput = ZLinkedUserInput.extend({
  username: ZUsername.optional(),
  avatar: z
    .string()
    .trim()
    .max(32)
    .refine((v) => v === '' || isEmoji(v), 'avatar must be a single emoji')
    .nullable()
    .optional()
    .describe('One emoji; null or "" clears'),
}).refine(
  ({ user_id: _, ...fields }) => anyFieldGiven(fields),
  'At least one of username or avatar is required',
);
