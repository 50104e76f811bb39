import { z } from 'zod';
import {
  MESSAGE_LIMITS,
  messageBodyShape,
  refineMessageBody,
  ZPublicKey,
} from '../../services/rooms/message-types';
import { ZInteger as integer, MAX_ID, ZId, ZIsoDate } from '../fields';
import { ZPageInfo } from './schemas';

// Inputs and outputs of room chat and end-to-end keys (API.md §5); outputs mirror
// services/rooms/message-types.ts.

// ── outputs ──────────────────────────────────────────────────────────────────────────────

export const ZRoomMessage = z.object({
  id: z.number().int(),
  room_id: z.number().int(),
  user_id: z.number().int().nullable().describe("Null once the author's account is deleted"),
  username: z.string().nullable(),
  content: z.string().nullable().describe('Plain text; null for end-to-end messages'),
  ciphertext: z.string().nullable(),
  nonce: z.string().nullable(),
  key_ids: z.array(z.number().int()).nullable(),
  encrypted: z.boolean().describe('True when the message carries ciphertext instead of content'),
  created_at: ZIsoDate,
});

export const ZRoomMessagePage = z.object({
  messages: z
    .array(ZRoomMessage)
    .describe('The newest `limit` messages before `before_id`, oldest first within the page'),
  has_more: z.boolean().describe('Older messages exist: ask again with `before_id` = the first id here'),
});

export const ZClearResult = z.object({ success: z.literal(true), count: z.number().int() });

export const ZRoomKey = z.object({
  key_id: z.number().int(),
  user_id: z.number().int(),
  public_key: z.string(),
  created_at: ZIsoDate,
});

export const ZRoomKeyList = z.object({
  keys: z.array(ZRoomKey).describe('Keys of current members only'),
  ...ZPageInfo,
});

// ── inputs ───────────────────────────────────────────────────────────────────────────────

export const ZSendMessageInput = z.object({ id: ZId, ...messageBodyShape }).superRefine(refineMessageBody);

export const ZMessageHistoryInput = z.object({
  id: ZId,
  before_id: integer()
    .min(1)
    .max(MAX_ID)
    .optional()
    .describe('Only messages older than this id; omit for the newest messages'),
  limit: integer()
    .min(1)
    .max(MESSAGE_LIMITS.PAGE_MAX)
    .default(MESSAGE_LIMITS.PAGE_DEFAULT)
    .describe(`At most ${MESSAGE_LIMITS.PAGE_MAX}; default ${MESSAGE_LIMITS.PAGE_DEFAULT}`),
});

export const ZMessageRef = z.object({ id: ZId, message_id: ZId });

export const ZRegisterKeyInput = z.object({ id: ZId, public_key: ZPublicKey });
