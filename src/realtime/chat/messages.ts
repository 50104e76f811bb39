import { z } from 'zod';
import { CHANNEL_NAME } from '../../services/chat/types';
import { frame, ZEmoji, ZRef, ZText } from './fields';
import { ChatClientType } from './protocol';

// Client frames of /ws/chat, validated at the edge (DESIGN.md rule 7): one schema per `type`.

const ZChannel = z
  .string()
  .min(1)
  .max(50)
  .regex(CHANNEL_NAME, { error: 'channel may contain only lowercase letters, digits and hyphens' });

export const chatClientSchemas = {
  [ChatClientType.JOIN]: frame(ChatClientType.JOIN, { channel: ZChannel }),
  [ChatClientType.LEAVE]: frame(ChatClientType.LEAVE, { channel: ZChannel }),
  [ChatClientType.MESSAGE]: frame(ChatClientType.MESSAGE, {
    channel: ZChannel,
    message: ZText,
    reply_to: ZRef.optional(),
    image_url: z.string().max(300).optional(),
  }),
  [ChatClientType.DELETE]: frame(ChatClientType.DELETE, { message_id: ZRef }),
  [ChatClientType.REACT]: frame(ChatClientType.REACT, { message_id: ZRef, emoji: ZEmoji }),
  [ChatClientType.EDIT_MESSAGE]: frame(ChatClientType.EDIT_MESSAGE, { message_id: ZRef, message: ZText }),
  [ChatClientType.PIN_MESSAGE]: frame(ChatClientType.PIN_MESSAGE, { message_id: ZRef }),
  [ChatClientType.UNPIN_MESSAGE]: frame(ChatClientType.UNPIN_MESSAGE, { message_id: ZRef }),
  [ChatClientType.MARK_READ]: frame(ChatClientType.MARK_READ, { message_id: ZRef }),
  [ChatClientType.TYPING]: frame(ChatClientType.TYPING, { channel: ZChannel }),
  [ChatClientType.BLOCK_USER]: frame(ChatClientType.BLOCK_USER, { user_id: ZRef }),
  [ChatClientType.UNBLOCK_USER]: frame(ChatClientType.UNBLOCK_USER, { user_id: ZRef }),
} as const;
