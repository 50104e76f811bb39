import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../deps';
import { CHAT_EVENTS_TOPIC, type ChatBusMessage } from '../../services/chat/events';
import type { ChatDeps } from '../../services/chat/types';
import { createJsonHub, type JsonHub } from '../json-hub';
import { definePortalHandler, type PortalHandler, type PortalSocket } from '../portal/handlers';
import { createLocalPresence } from '../portal/presence';
import type { RealtimeTransport } from '../types';
import { createDmDelivery } from './dm-delivery';
import { registerBlockHandlers } from './handlers/blocks';
import { registerChannelHandlers } from './handlers/channels';
import { registerDmHandlers } from './handlers/dm';
import { registerMessageHandlers } from './handlers/messages';
import { registerPollHandlers } from './handlers/polls';
import { registerVoiceHandlers } from './handlers/voice';
import { createChannelPresence } from './presence';
import { ALL_TOPIC, CHAT_PATH, ChatServerType, ChatTiming } from './protocol';
import { createChatSockets } from './sockets';

// The /ws/chat hub (API.md §9, seed 002): authenticates sockets like /ws/portal (scope group
// `chat` for API keys), dispatches client frames by `type`, and turns the Bus's chat events into
// frames for the sockets this node holds. Features (polls, DMs, voice) add handlers with `on`.

export type ChatSocket = PortalSocket;
export type ChatHandler = PortalHandler;
export const defineChatHandler = definePortalHandler;

export type ChatHub = JsonHub & { close(): Promise<void> };

export async function registerChatHub(opts: {
  transport: RealtimeTransport;
  deps: AppDeps;
  authTimeoutMs?: number;
}): Promise<ChatHub> {
  const { transport, deps } = opts;
  const log = deps.log.child({ component: 'ws-chat' });
  const chatDeps: ChatDeps = {
    db: deps.database.db,
    bus: deps.bus,
    log,
    secretBox: deps.secretBox,
    secretKey: deps.secretKey,
    rateLimiter: deps.rateLimiter,
    env: deps.env,
  };
  const presence = await createChannelPresence({ bus: deps.bus, log, nodeId: randomUUID() });
  const sockets = createChatSockets({ transport, presence, deps: chatDeps });
  const dm = await createDmDelivery({ transport, bus: deps.bus, deps: chatDeps, log });
  // `online_users` of GET /api/stats counts users in chat too: the same set as /ws/portal's, so a
  // user on both counts once, and either hub's last socket leaving keeps the other's entry.
  const online = await createLocalPresence({ bus: deps.bus, log });
  const core = createJsonHub({
    transport,
    pattern: CHAT_PATH,
    authDeps: { db: deps.database.db, secretKey: deps.secretKey, credentialCache: deps.credentialCache },
    bus: deps.bus,
    log,
    maxSocketsPerUser: deps.env.WS_MAX_SOCKETS_PER_USER,
    maxPendingFrames: deps.env.WS_MAX_PENDING_FRAMES,
    scopeGroup: 'chat',
    limitPrefix: 'chat:',
    authTimeoutMs: opts.authTimeoutMs ?? ChatTiming.AUTH_TIMEOUT_MS,
    async attach(socket, user) {
      socket.subscribe(ALL_TOPIC);
      await online.join(user.userId, socket);
      socket.sendJson({ type: ChatServerType.READY, user: { id: user.userId, username: user.username } });
      await dm.attach(socket, user);
    },
    async detach(socket, user) {
      await sockets.drop(socket, user);
      await online.leave(user.userId, socket);
    },
    // Error frames are the seed's `{type:"error", message}` and nothing more.
    errorFrame: (message) => ({ type: ChatServerType.ERROR, message }),
  });

  const unsubscribe = await deps.bus.subscribe(CHAT_EVENTS_TOPIC, (raw) => {
    sockets.deliver(raw as ChatBusMessage);
  });

  const hub: ChatHub = {
    ...core,
    async close() {
      await voice.close().catch(() => {});
      await unsubscribe().catch(() => {});
      await dm.close();
      await online.close();
      presence.close();
      core.stopTimers();
    },
  };
  const context = { hub, deps: chatDeps, sockets };
  registerChannelHandlers(context);
  registerMessageHandlers(context);
  registerBlockHandlers(context);
  registerPollHandlers(context);
  registerDmHandlers(context, dm);
  const voice = await registerVoiceHandlers(context);
  log.info({ path: CHAT_PATH }, 'chat hub registered');
  return hub;
}

export type ChatHubContext = {
  hub: ChatHub;
  deps: ChatDeps;
  sockets: ReturnType<typeof createChatSockets>;
};
