import type { z } from 'zod';
import { markRead, setPinned, toggleReaction } from '../../../services/chat/interactions';
import { deleteMessage, editMessage, sendMessage } from '../../../services/chat/messages';
import type { PortalUser } from '../../portal/auth';
import { type ChatHubContext, defineChatHandler } from '../hub';
import { chatClientSchemas } from '../messages';
import { ChatClientType } from '../protocol';

// Message actions of seed 002 on /ws/chat. Every result reaches the channel's sockets (the
// sender's included) through the Bus; the handlers only call the services.

export function registerMessageHandlers({ hub, deps }: ChatHubContext) {
  const on = <T extends keyof typeof chatClientSchemas>(
    type: T,
    run: (user: PortalUser, message: z.infer<(typeof chatClientSchemas)[T]>) => Promise<unknown>,
  ) =>
    hub.on(
      type,
      defineChatHandler({
        schema: chatClientSchemas[type],
        requiresUser: true,
        handle: async ({ user }, message) => {
          await run(user!, message as z.infer<(typeof chatClientSchemas)[T]>);
        },
      }),
    );

  on(ChatClientType.MESSAGE, (user, m) => sendMessage(deps, user, m));
  on(ChatClientType.DELETE, (user, m) => deleteMessage(deps, user, m.message_id));
  on(ChatClientType.EDIT_MESSAGE, (user, m) => editMessage(deps, user, m.message_id, m.message));
  on(ChatClientType.REACT, (user, m) => toggleReaction(deps, user, m.message_id, m.emoji));
  on(ChatClientType.PIN_MESSAGE, (user, m) => setPinned(deps, user, m.message_id, true));
  on(ChatClientType.UNPIN_MESSAGE, (user, m) => setPinned(deps, user, m.message_id, false));
  on(ChatClientType.MARK_READ, (user, m) => markRead(deps, user, m.message_id));
}
