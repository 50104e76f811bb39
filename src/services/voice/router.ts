import type { Bus } from '../../core/bus/types';
import type { VoiceServerEvent } from './protocol';
import type { VoiceDelivery, VoiceSignalling } from './signalling';

// Routes the Deliveries of signalling.ts across the cluster, for the /ws/chat hub. Every node
// subscribes to one topic and sends each delivery to its own recipients (localRecipients). A
// delivery for a socket of this node skips the Bus. One topic for all voice rooms keeps this simple;
// voice events are small and few (speaking is rate-limited, rooms hold 10), so every node reading
// them all is cheap. Per-room topics would be the next step if that ever shows up in a profile.

export const VOICE_DELIVERY_TOPIC = 'voice:delivery';

export type VoiceSend = (socketId: string, event: VoiceServerEvent) => void;

export async function createVoiceRouter(opts: { bus: Bus; voice: VoiceSignalling; send: VoiceSend }) {
  const { bus, voice, send } = opts;
  const unsubscribe = await bus.subscribe(VOICE_DELIVERY_TOPIC, (message) => {
    const delivery = message as VoiceDelivery;
    for (const socketId of voice.localRecipients(delivery)) send(socketId, delivery.event);
  });
  return {
    /** In order: a room's events go through one topic, so every node sees them in the order given. */
    async route(deliveries: VoiceDelivery[]): Promise<void> {
      for (const delivery of deliveries) {
        // A socket of this node needs no round trip (and route() never publishes one, so no duplicate).
        if (delivery.to === 'socket' && delivery.nodeId === voice.nodeId)
          send(delivery.socketId, delivery.event);
        else await bus.publish(VOICE_DELIVERY_TOPIC, delivery);
      }
    },
    close: () => unsubscribe(),
  };
}
