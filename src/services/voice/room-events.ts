import type { Bus } from '../../core/bus/types';

// Changes to who may be in a voice room, announced by the services that make them (channel members,
// visibility, deletion, renames; leaving a group DM) and acted on by every node's voice handler for
// the sessions it holds: `recheck` ends the sessions whose user lost access (voice_user_left to the
// others and to them), `rename` moves a channel's voice room to the channel's new name.

export const VOICE_ROOM_TOPIC = 'voice:rooms';

export type VoiceRoomEvent = { kind: 'recheck'; room: string } | { kind: 'rename'; from: string; to: string };

type Deps = { bus: Bus; log: { warn(obj: object, msg?: string): void } };

/** Best effort like every live push: a Bus outage leaves sessions until their socket goes. */
export async function announceVoiceRoomEvent(deps: Deps, event: VoiceRoomEvent): Promise<void> {
  try {
    await deps.bus.publish(VOICE_ROOM_TOPIC, event);
  } catch (err) {
    deps.log.warn({ err, event }, 'voice room event not announced');
  }
}

/** The voice room of a DM conversation (seed 002: `room: "dm:{conversation_id}"`). */
export const dmVoiceRoom = (conversationId: number) => `dm:${conversationId}`;
