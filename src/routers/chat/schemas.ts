import { z } from 'zod';
import {
  CHANNEL_MODES,
  CHANNEL_NAME,
  CHANNEL_ROLES,
  CHANNEL_VISIBILITIES,
  CHAT_LIMITS,
  PAYLOAD_ROLES,
} from '../../services/chat/types';
import { ZInteger as integer, pageFields, pageOutputFields, ZId, ZIsoDate } from '../fields';

// Inputs and outputs of the chat router (API.md §8); outputs mirror services/chat/*.ts views.

// ── outputs ──────────────────────────────────────────────────────────────────────────────

export const ZChannel = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string(),
  is_default: z.union([z.literal(0), z.literal(1)]).describe('1 for the default channel (seed 002)'),
  is_stream_channel: z.boolean(),
  visibility: z.enum(CHANNEL_VISIBILITIES),
  mode: z.enum(CHANNEL_MODES),
  created_by: z.number().int().nullable(),
  created_at: ZIsoDate,
});

export const ZChannelList = z.object({
  channels: z.array(ZChannel.extend({ unread_count: z.number().int() })),
  ...pageOutputFields,
});

export const ZChannelMemberList = z.object({
  members: z.array(
    z.object({
      user_id: z.number().int(),
      username: z.string(),
      role: z.enum(CHANNEL_ROLES),
      added_at: ZIsoDate,
    }),
  ),
  ...pageOutputFields,
});

const ZAvatar = z.object({
  color: z.string(),
  emoji: z.string().nullable(),
  initials: z.string().nullable(),
});

const ZVoter = z.object({ user_id: z.number().int().nullable(), username: z.string() });

export const ZPoll = z.object({
  id: z.number().int(),
  message_id: z.number().int(),
  question: z.string(),
  options: z.array(z.string()),
  votes: z.record(z.string(), z.number().int()).describe('Votes per option index'),
  total_votes: z.number().int(),
  voters: z
    .record(z.string(), z.array(ZVoter))
    .optional()
    .describe('Who voted for each option; absent when the poll has anonymous votes'),
  allow_multiple: z.boolean(),
  anonymous_votes: z.boolean(),
  closes_at: ZIsoDate.nullable(),
  closed: z.boolean(),
  my_votes: z.array(z.number().int()).optional().describe("The caller's own choices"),
});

export const ZChatMessage = z.object({
  id: z.number().int(),
  channel: z.string(),
  channel_id: z.number().int(),
  user_id: z.number().int().nullable().describe('null for anonymous messages seen by others'),
  username: z.string(),
  nickname: z.string().nullable(),
  role: z.enum(PAYLOAD_ROLES),
  anonymous: z.boolean(),
  avatar: ZAvatar.nullable(),
  message: z.string(),
  image_url: z.string().optional(),
  reply_to: z.number().int().optional(),
  reply_preview: z
    .object({ id: z.number().int(), username: z.string(), message: z.string() })
    .nullable()
    .optional(),
  reactions: z.array(
    z.object({
      emoji: z.string(),
      count: z.number().int(),
      user_ids: z.array(z.number().nullable()).describe('null for an anonymous reactor seen by others'),
    }),
  ),
  pinned: z.boolean(),
  edited_at: ZIsoDate.nullable(),
  created_at: ZIsoDate,
  poll: ZPoll.optional().describe('Present on poll messages'),
});

export const ZMessagePage = z.object({ messages: z.array(ZChatMessage), has_more: z.boolean() });
export const ZThread = z.object({ messages: z.array(ZChatMessage) });

// ── inputs ───────────────────────────────────────────────────────────────────────────────

export const ZChannelName = z
  .string()
  .trim()
  .min(1)
  .max(50)
  .regex(CHANNEL_NAME, { error: 'name may contain only lowercase letters, digits and hyphens' });

const ZDescription = z.string().trim().max(CHAT_LIMITS.DESCRIPTION_MAX);

export const ZCreateChannelInput = z.object({
  name: ZChannelName,
  description: ZDescription.optional(),
  visibility: z.enum(CHANNEL_VISIBILITIES).optional().describe('Default: public for Admin+, else private'),
  mode: z.enum(CHANNEL_MODES).optional(),
});

export const ZUpdateChannelInput = ZCreateChannelInput.partial().extend({ id: ZId });

export const ZChannelId = z.object({ id: ZId });

export const ZChannelPageInput = z.object(pageFields(100));
export const ZMemberPageInput = z.object({ id: ZId, ...pageFields(100) });

export const ZAddMemberInput = z.object({ id: ZId, user_id: z.number().int().positive() });
export const ZMemberRef = z.object({ id: ZId, user_id: ZId });
export const ZSetMemberRoleInput = ZMemberRef.extend({ role: z.enum(CHANNEL_ROLES) });

export const ZHistoryInput = z.object({
  id: ZId,
  before_id: ZId.optional(),
  limit: integer().min(1).max(CHAT_LIMITS.HISTORY_MAX).default(CHAT_LIMITS.HISTORY_DEFAULT),
});

export const ZMessageId = z.object({ id: ZId });
