import { AppError } from '../../../core/errors';
import { readableChannel } from '../../../services/chat/access';
import { channelView } from '../../../services/chat/channels';
import { listHistory, listPinned } from '../../../services/chat/history';
import { announceTyping } from '../../../services/chat/interactions';
import { onlineUsersView } from '../../../services/chat/people';
import { type ChatHubContext, defineChatHandler } from '../hub';
import { chatClientSchemas } from '../messages';
import { ChatClientType, ChatServerType, MAX_JOINED_CHANNELS } from '../protocol';

// Joining and leaving channels, and typing (seed 002): `join` answers with `channel_info`,
// `history` (last 50, oldest first), `pinned_messages` and `users`, and tells the others.

export function registerChannelHandlers({ hub, deps, sockets }: ChatHubContext) {
  hub.on(
    ChatClientType.JOIN,
    defineChatHandler({
      schema: chatClientSchemas[ChatClientType.JOIN],
      requiresUser: true,
      async handle({ socket, user, send }, message) {
        const me = user!;
        const { access, messages } = await listHistory(deps, me, { name: message.channel });
        const channel = access.channel;
        if (socket.closed) return;
        try {
          await sockets.join(socket, me, channel.id, channel.name);
        } catch {
          throw new AppError('BAD_REQUEST', `A connection may join at most ${MAX_JOINED_CHANNELS} channels`);
        }
        const view = channelView(channel);
        send({
          type: ChatServerType.CHANNEL_INFO,
          name: view.name,
          topic: view.description,
          id: view.id,
          visibility: view.visibility,
          mode: view.mode,
          is_default: view.is_default,
        });
        send({ type: ChatServerType.HISTORY, channel: channel.name, messages });
        send({
          type: ChatServerType.PINNED_MESSAGES,
          channel: channel.name,
          messages: await listPinned(deps, me, channel.id),
        });
        const online = await onlineUsersView(deps.db, me, channel.id, await sockets.online(channel.id));
        send({ type: ChatServerType.USERS, channel: channel.name, ...online });
      },
    }),
  );

  hub.on(
    ChatClientType.LEAVE,
    defineChatHandler({
      schema: chatClientSchemas[ChatClientType.LEAVE],
      requiresUser: true,
      async handle({ socket, user }, message) {
        const { channel } = await readableChannel(deps.db, { name: message.channel }, user!);
        if (!sockets.isJoined(socket, channel.id)) throw new AppError('BAD_REQUEST', 'Not in this channel');
        await sockets.leave(socket, user!, channel.id);
      },
    }),
  );

  hub.on(
    ChatClientType.TYPING,
    defineChatHandler({
      schema: chatClientSchemas[ChatClientType.TYPING],
      requiresUser: true,
      handle: ({ user }, message) => announceTyping(deps, user!, message.channel),
    }),
  );
}
