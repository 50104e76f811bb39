import { z } from 'zod';
import { PAYLOAD_ROLES } from '../../services/chat/types';
import { DM_LIMITS, DM_TYPES } from '../../services/dm/types';
import { ZInteger as integer, MAX_ID, pageFields, pageOutputFields, ZId, ZIsoDate } from '../fields';

// Inputs and outputs of the DM router (API.md §8, seed 002 "Direct Messages"); outputs mirror
// services/dm/*.ts views.

// ── outputs ──────────────────────────────────────────────────────────────────────────────

const ZBriefParticipant = z.object({ user_id: z.number().int(), username: z.string() });

const ZAvatar = z.object({
  color: z.string(),
  emoji: z.string().nullable(),
  initials: z.string().nullable(),
});

const ZConversationBase = z.object({
  id: z.number().int(),
  type: z.enum(DM_TYPES),
  name: z.string().nullable(),
  created_at: ZIsoDate,
});

export const ZCreatedConversation = ZConversationBase.extend({ participants: z.array(ZBriefParticipant) });

export const ZConversationList = z.object({
  conversations: z.array(
    ZCreatedConversation.extend({
      last_message: z.object({ message: z.string(), username: z.string(), created_at: ZIsoDate }).nullable(),
      unread_count: z.number().int(),
      muted: z.boolean(),
    }),
  ),
  ...pageOutputFields,
});

export const ZConversationDetail = ZConversationBase.extend({
  participants: z.array(
    ZBriefParticipant.extend({
      nickname: z.string().nullable(),
      role: z.enum(PAYLOAD_ROLES),
      avatar: ZAvatar,
    }),
  ),
  muted: z.boolean(),
});

export const ZDmMessage = z.object({
  id: z.number().int(),
  conversation_id: z.number().int(),
  user_id: z.number().int().nullable().describe('null once the author account is deleted'),
  username: z.string(),
  nickname: z.string().nullable(),
  avatar: ZAvatar.nullable(),
  message: z.string(),
  image_url: z.string().optional(),
  reply_to: z.number().int().nullable(),
  reactions: z.array(z.object({ emoji: z.string(), count: z.number().int(), user_ids: z.array(z.number()) })),
  edited_at: ZIsoDate.nullable(),
  created_at: ZIsoDate,
});

export const ZDmMessagePage = z.object({ messages: z.array(ZDmMessage), has_more: z.boolean() });

export const ZMuteResult = z.object({ success: z.literal(true), muted: z.boolean() });

export const ZParticipantsResult = z.object({
  success: z.literal(true),
  participants: z.array(ZBriefParticipant),
});

// ── inputs ───────────────────────────────────────────────────────────────────────────────

const ZUserRef = z.number().int().positive().max(MAX_ID);
const ZUserIds = z
  .array(ZUserRef)
  .min(1)
  .max(DM_LIMITS.MAX_PARTICIPANTS * 2);

export const ZCreateConversationInput = z
  .object({
    user_id: ZUserRef.optional().describe('1:1: the other user'),
    user_ids: ZUserIds.optional().describe('Group: the other users (at most 10 participants in total)'),
    name: z.string().trim().max(DM_LIMITS.NAME_MAX).nullish().describe('Group name'),
  })
  .refine((b) => (b.user_id === undefined) !== (b.user_ids === undefined), {
    message: 'Either user_id or user_ids is required',
  });

export const ZConversationId = z.object({ id: ZId });

export const ZConversationPageInput = z.object(pageFields(DM_LIMITS.HISTORY_MAX, DM_LIMITS.HISTORY_DEFAULT));

export const ZDmHistoryInput = z.object({
  id: ZId,
  before_id: ZId.optional(),
  limit: integer().min(1).max(DM_LIMITS.HISTORY_MAX).default(DM_LIMITS.HISTORY_DEFAULT),
});

export const ZMuteInput = z.object({ id: ZId, muted: z.boolean() });

export const ZAddParticipantsInput = z.object({ id: ZId, user_ids: ZUserIds });
