import { z } from 'zod';
import { createGroup, pushConversationUpdates } from '../../../services/dm/conversations';
import { dmHistory, markDmRead, reactDm, typingDm } from '../../../services/dm/interactions';
import { getConversation } from '../../../services/dm/list';
import { deleteDm, editDm, sendDm } from '../../../services/dm/messages';
import { DM_LIMITS } from '../../../services/dm/types';
import type { PortalUser } from '../../portal/auth';
import type { PortalHandlerContext } from '../../portal/handlers';
import type { DmDelivery } from '../dm-delivery';
import { frame, ZEmoji, ZRef, ZText } from '../fields';
import { type ChatHubContext, defineChatHandler } from '../hub';

// DM client messages of seed 002 on /ws/chat. Answers meant for the caller only (`dm_open`,
// `dm_history`) go to the asking socket; everything else reaches the participants' sockets on
// every node through the Bus (services/dm/events.ts → dm-delivery.ts).

export const dmClientSchemas = {
  dm_open: frame('dm_open', { conversation_id: ZRef }),
  dm_create_group: frame('dm_create_group', {
    user_ids: z
      .array(ZRef)
      .min(1)
      .max(DM_LIMITS.MAX_PARTICIPANTS * 2),
    name: z.string().max(DM_LIMITS.NAME_MAX).nullish(),
  }),
  dm_message: frame('dm_message', {
    conversation_id: ZRef,
    message: ZText,
    reply_to: ZRef.optional(),
    image_url: z.string().max(300).optional(),
  }),
  dm_typing: frame('dm_typing', { conversation_id: ZRef }),
  dm_delete: frame('dm_delete', { conversation_id: ZRef, message_id: ZRef }),
  dm_react: frame('dm_react', { conversation_id: ZRef, message_id: ZRef, emoji: ZEmoji }),
  dm_edit: frame('dm_edit', { conversation_id: ZRef, message_id: ZRef, message: ZText }),
  dm_mark_read: frame('dm_mark_read', { conversation_id: ZRef }),
  dm_history: frame('dm_history', { conversation_id: ZRef, before_id: ZRef.optional() }),
} as const;

type Schemas = typeof dmClientSchemas;

export function registerDmHandlers({ hub, deps }: ChatHubContext, delivery: DmDelivery) {
  const on = <T extends keyof Schemas>(
    type: T,
    run: (user: PortalUser, message: z.infer<Schemas[T]>, ctx: PortalHandlerContext) => Promise<unknown>,
  ) =>
    hub.on(
      type,
      defineChatHandler({
        schema: dmClientSchemas[type],
        requiresUser: true,
        handle: async (ctx, message) => {
          await run(ctx.user!, message as z.infer<Schemas[T]>, ctx);
        },
      }),
    );

  on('dm_open', async (user, m, { send }) => {
    send({
      type: 'dm_conversation_opened',
      conversation: await getConversation(deps, user.userId, m.conversation_id),
    });
  });
  // createGroup pushes `dm_conversations_list` to the creator and the new entry to the others.
  on('dm_create_group', (user, m) => createGroup(deps, user, m));
  on('dm_message', (user, m) => sendDm(deps, user, m));
  on('dm_typing', (user, m) => typingDm(deps, user, m.conversation_id));
  on('dm_delete', (user, m) => deleteDm(deps, user, m.conversation_id, m.message_id));
  on('dm_react', (user, m) => reactDm(deps, user, m.conversation_id, m.message_id, m.emoji));
  on('dm_edit', (user, m) => editDm(deps, user, m.conversation_id, m.message_id, m.message));
  // The reader's sockets get that one conversation with its unread count at 0.
  on('dm_mark_read', async (user, m) => {
    await markDmRead(deps, user, m.conversation_id);
    await pushConversationUpdates(deps, m.conversation_id, [user.userId]);
  });
  on('dm_history', async (user, m, { send }) => {
    const page = await dmHistory(deps, user, { ...m, limit: DM_LIMITS.HISTORY_DEFAULT });
    send({ type: 'dm_history', conversation_id: m.conversation_id, ...page });
  });

  hub.onSocketClose((socket, user) => delivery.detach(socket, user));
}
