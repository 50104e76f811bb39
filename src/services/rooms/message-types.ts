import { z } from 'zod';
import type { SecretBox } from '../../core/crypto';
import type { roomKeys, roomMessages } from '../../db/schema';

// Room chat vocabulary (API.md §5): the body of a message, shared by the REST router and the
// /ws/portal hub so both refuse the same frames, and what clients see of messages and keys.

export const MESSAGE_LIMITS = {
  CONTENT_MAX: 4000,
  CIPHERTEXT_MAX: 65_536,
  NONCE_MAX: 256,
  KEY_IDS_MAX: 100,
  PUBLIC_KEY_MIN: 32,
  PUBLIC_KEY_MAX: 2048,
  PAGE_DEFAULT: 50,
  PAGE_MAX: 100,
} as const;

/** Key ids are PostgreSQL integers (JSON numbers: `"5"` is invalid). */
const keyId = z.number().int().min(1).max(2_147_483_647);

/** API.md §0 feature limit: 5 room messages per 5 s per user (over REST and /ws/portal alike). */
export const CHAT_RATE = { name: 'chat', limit: 5, windowMs: 5_000 } as const;

/** Standard base64 or base64url: clients pick either; the server never decodes it. */
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const base64 = (field: string, max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(BASE64, { message: `${field} must be base64` });

export const ZPublicKey = z
  .string()
  .min(MESSAGE_LIMITS.PUBLIC_KEY_MIN)
  .max(MESSAGE_LIMITS.PUBLIC_KEY_MAX)
  .regex(BASE64, { message: 'public_key must be base64' })
  .describe('The public key, base64 or base64url text; the server stores it as given');

/** The fields of a message; `refineMessageBody` adds the "exactly one kind" rule. */
export const messageBodyShape = {
  content: z
    .string()
    .min(1)
    .max(MESSAGE_LIMITS.CONTENT_MAX)
    .refine((s) => s.trim().length > 0, { message: 'content must not be blank' })
    .optional()
    .describe('Plain text (sealed at rest). Exclusive with ciphertext'),
  ciphertext: base64('ciphertext', MESSAGE_LIMITS.CIPHERTEXT_MAX)
    .optional()
    .describe('End-to-end encrypted body, stored and relayed without being read'),
  nonce: base64('nonce', MESSAGE_LIMITS.NONCE_MAX).optional().describe('Required with ciphertext'),
  key_ids: z
    .array(keyId)
    .min(1)
    .max(MESSAGE_LIMITS.KEY_IDS_MAX)
    .refine((ids) => new Set(ids).size === ids.length, { message: 'key_ids must not repeat' })
    .optional()
    .describe(
      'The room keys (GET /chats/{id}/keys) the ciphertext was encrypted for; required with ciphertext',
    ),
};

type Body = { [K in keyof typeof messageBodyShape]?: z.infer<(typeof messageBodyShape)[K]> };

/**
 * Exactly one of plain `content` or the end-to-end triple. Runs only once every field is valid
 * on its own (zod skips refinements after issues), so the first invalid field is still named first.
 */
export function refineMessageBody(body: Body, ctx: z.RefinementCtx) {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (body.content !== undefined) {
    if (body.ciphertext !== undefined) issue('ciphertext', 'Send either content or ciphertext, not both');
    else if (body.nonce !== undefined || body.key_ids !== undefined)
      issue(body.nonce !== undefined ? 'nonce' : 'key_ids', 'nonce and key_ids go only with ciphertext');
    return;
  }
  if (body.ciphertext === undefined) return issue('content', 'content or ciphertext is required');
  if (body.nonce === undefined) return issue('nonce', 'nonce is required with ciphertext');
  if (body.key_ids === undefined) issue('key_ids', 'key_ids is required with ciphertext');
}

export const ZRoomMessageBody = z.object(messageBodyShape).superRefine(refineMessageBody);
export type RoomMessageBody = z.infer<typeof ZRoomMessageBody>;

type MessageRow = typeof roomMessages.$inferSelect;

/**
 * A sealed value the current keys cannot open (a retired key) shows as null rather than failing
 * the whole page of history.
 */
function openSealed(box: SecretBox, sealed: string | null): string | null {
  if (sealed === null) return null;
  try {
    return box.decrypt(sealed);
  } catch {
    return null;
  }
}

export function messageView(box: SecretBox, row: MessageRow, username: string | null) {
  const encrypted = row.ciphertext !== null;
  return {
    id: row.id,
    room_id: row.roomId,
    user_id: row.userId,
    username,
    content: encrypted ? null : openSealed(box, row.content),
    ciphertext: row.ciphertext,
    nonce: row.nonce,
    key_ids: row.keyIds ?? null,
    encrypted,
    created_at: row.createdAt.toISOString(),
  };
}
export type RoomMessageView = ReturnType<typeof messageView>;

export const keyView = (row: typeof roomKeys.$inferSelect) => ({
  key_id: row.id,
  user_id: row.userId,
  public_key: row.publicKey,
  created_at: row.createdAt.toISOString(),
});
export type RoomKeyView = ReturnType<typeof keyView>;
