import { z } from 'zod';
import { MAX_ID } from '../../routers/fields';
import { CHAT_LIMITS } from '../../services/chat/types';

// Field schemas shared by the channel and DM frames of /ws/chat, so both answer a bad field with
// the same sentence.

export const ZRef = z.number().int().positive().max(MAX_ID);
export const ZText = z.string().max(CHAT_LIMITS.MESSAGE_MAX, {
  error: `message must be at most ${CHAT_LIMITS.MESSAGE_MAX} characters`,
});
export const ZEmoji = z
  .string()
  .min(1)
  .max(CHAT_LIMITS.EMOJI_MAX)
  .regex(/^\S+$/, { error: 'emoji must not contain spaces' });

/** One client frame: its `type` literal plus its fields. */
export const frame = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ type: z.literal(type), ...shape });
