import type { ChatFrame } from '../chat/events';
import type { DmDeps } from './types';

// DM frames target users, not channels: one Bus message names the participants, and every node's
// chat hub hands the frame to the /ws/chat sockets it holds for them (realtime/chat/dm-delivery.ts).

export const DM_EVENTS_TOPIC = 'dm.events';

export type DmBusMessage = {
  user_ids: number[];
  frame: ChatFrame;
};

/** Publishes a frame to these users' /ws/chat sockets on every node; a Bus outage costs the push only. */
export async function publishDmEvent(deps: Pick<DmDeps, 'bus' | 'log'>, message: DmBusMessage) {
  if (message.user_ids.length === 0) return;
  try {
    await deps.bus.publish(DM_EVENTS_TOPIC, message);
  } catch (err) {
    deps.log.warn({ err, what: message.frame.type }, 'dm event not pushed');
  }
}
