import { eq } from 'drizzle-orm';
import { users } from '../../../db/schema';
import { readableChannel } from '../../../services/chat/access';
import { isDmParticipant } from '../../../services/dm/access';
import { VoiceClientType, voiceClientSchemas } from '../../../services/voice/protocol';
import { VOICE_ROOM_TOPIC, type VoiceRoomEvent } from '../../../services/voice/room-events';
import { createVoiceRouter } from '../../../services/voice/router';
import { createVoiceSignalling } from '../../../services/voice/signalling';
import { type ChatHubContext, type ChatSocket, defineChatHandler } from '../hub';
import { lastJoinedChannel } from '../sockets';

// Voice signalling on /ws/chat (API.md §8, seed 002 "Voice Signaling"): the frames go to the
// transport-free state machine of services/voice, whose deliveries reach sockets on every node
// through the voice router. A channel voice room admits the channel's readers; a `dm:{id}` room
// admits that conversation's participants.

export async function registerVoiceHandlers({ hub, deps }: ChatHubContext) {
  const sockets = new Map<string, ChatSocket>();

  async function canJoin(userId: number, room: string): Promise<boolean> {
    if (room.startsWith('dm:')) {
      const id = Number(room.slice(3));
      return Number.isSafeInteger(id) && id > 0 && (await isDmParticipant(deps.db, id, userId));
    }
    const [user] = await deps.db
      .select({ username: users.username, level: users.permissionLevel })
      .from(users)
      .where(eq(users.id, userId));
    if (!user) return false;
    try {
      await readableChannel(deps.db, { name: room }, { userId, username: user.username, level: user.level });
      return true;
    } catch {
      return false;
    }
  }

  const voice = await createVoiceSignalling({ bus: deps.bus, canJoin, log: deps.log });
  const router = await createVoiceRouter({
    bus: deps.bus,
    voice,
    send: (socketId, event) => void sockets.get(socketId)?.sendJson(event),
  });

  for (const type of Object.values(VoiceClientType)) {
    hub.on(
      type,
      defineChatHandler({
        schema: voiceClientSchemas[type],
        requiresUser: true,
        async handle({ socket, user }, message) {
          sockets.set(socket.id, socket);
          const deliveries = await voice.handle(
            {
              socketId: socket.id,
              userId: user!.userId,
              username: user!.username,
              currentChannel: lastJoinedChannel(socket),
            },
            message,
          );
          await router.route(deliveries);
        },
      }),
    );
  }

  hub.onSocketClose(async (socket) => {
    if (!sockets.delete(socket.id)) return;
    await router.route(await voice.disconnect(socket.id));
  });

  // Every node acts for the sessions it holds; the events come from the channel and DM services.
  const unsubscribeRooms = await deps.bus.subscribe(VOICE_ROOM_TOPIC, (raw) => {
    const event = raw as VoiceRoomEvent;
    const done =
      event.kind === 'rename'
        ? voice.rename(event.from, event.to)
        : voice.recheck(event.room).then((deliveries) => router.route(deliveries));
    done.catch((err: unknown) => deps.log.warn({ err, event }, 'voice room event failed'));
  });

  return {
    async close() {
      await unsubscribeRooms().catch(() => {});
      await router.close();
      await voice.close();
    },
  };
}
