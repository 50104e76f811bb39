import { requireUser } from '../../../services/users/accounts';
import { blockUser, unblockUser } from '../../../services/users/blocks';
import { type ChatHubContext, defineChatHandler } from '../hub';
import { chatClientSchemas } from '../messages';
import { ChatClientType, ChatServerType } from '../protocol';

// Blocking over /ws/chat (seed 002 "User Blocking"): the same services as /api/blocks, answered
// with `user_blocked` / `user_unblocked`. Hiding happens at delivery and in history.

export function registerBlockHandlers({ hub, deps }: ChatHubContext) {
  hub.on(
    ChatClientType.BLOCK_USER,
    defineChatHandler({
      schema: chatClientSchemas[ChatClientType.BLOCK_USER],
      requiresUser: true,
      async handle({ user, send }, message) {
        await blockUser(deps.db, { userId: user!.userId, targetId: message.user_id });
        const target = await requireUser(deps.db, message.user_id);
        send({ type: ChatServerType.USER_BLOCKED, user_id: target.id, username: target.username });
      },
    }),
  );
  hub.on(
    ChatClientType.UNBLOCK_USER,
    defineChatHandler({
      schema: chatClientSchemas[ChatClientType.UNBLOCK_USER],
      requiresUser: true,
      async handle({ user, send }, message) {
        const target = await requireUser(deps.db, message.user_id);
        await unblockUser(deps.db, { userId: user!.userId, targetId: message.user_id });
        send({ type: ChatServerType.USER_UNBLOCKED, user_id: target.id, username: target.username });
      },
    }),
  );
}
