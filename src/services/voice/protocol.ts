import { z } from 'zod';
import { MAX_ID } from '../../routers/fields';

// Voice signalling frames on /ws/chat (seed 002 "Voice Signaling", API.md §8). The server is only a
// relay for WebRTC offers/answers/candidates plus a little shared state (who is in which voice room,
// muted, deafened); audio never touches it. These names are the contract: do not rename them.

/** Client → server `type`s. */
export const VoiceClientType = {
  JOIN: 'voice_join',
  LEAVE: 'voice_leave',
  SIGNAL: 'voice_signal',
  MUTE: 'voice_mute',
  DEAFEN: 'voice_deafen',
  SPEAKING: 'voice_speaking',
} as const;

export type VoiceClientType = (typeof VoiceClientType)[keyof typeof VoiceClientType];

/** Server → client `type`s. */
export const VoiceServerType = {
  /** To the joiner: `{room, members: [{user_id, username, muted, deafened}]}` (the joiner included). */
  STATE: 'voice_state',
  /** To the rest of the room: `{room, user_id, username, muted, deafened}`. */
  USER_JOINED: 'voice_user_joined',
  /** To the room; also to a socket whose voice session another tab of the same user took over. */
  USER_LEFT: 'voice_user_left',
  /** To the target only: `{from_user_id, signal}`. */
  SIGNAL: 'voice_signal',
  MUTE: 'voice_mute',
  DEAFEN: 'voice_deafen',
  SPEAKING: 'voice_speaking',
} as const;

export const VoiceLimits = {
  /** WebRTC mesh: every member uploads to every other one, so 10 is already a lot (seed 002: 2–10). */
  MAX_MEMBERS: 10,
  /** Seed 002: "rate-limited to 1/100ms". */
  SPEAKING_INTERVAL_MS: 100,
  /** An SDP with many codecs and candidates stays far below this; anything bigger is abuse. */
  MAX_SIGNAL_BYTES: 64 * 1024,
} as const;

export const VoiceMessages = {
  FULL: (max: number) => `Voice room is full (${max} users)`,
  FORBIDDEN: 'You cannot join this voice room',
  NO_ROOM: 'Join a text channel first, or pass room: "dm:<conversation_id>"',
  NOT_IN_VOICE: 'You are not in a voice room',
  TARGET_NOT_IN_ROOM: 'That user is not in your voice room',
  SELF_SIGNAL: 'You cannot send a voice signal to yourself',
} as const;

/** A text channel's name (channel names are lowercase letters, digits, hyphens) or `dm:<id>`. */
const CHANNEL_ROOM = /^[a-z0-9-]{1,50}$/;
const DM_ROOM = /^dm:([1-9][0-9]{0,9})$/;

export type VoiceRoomRef = { kind: 'channel'; name: string } | { kind: 'dm'; conversationId: number };

/** What a room string names, or undefined when it is not a valid room. Channel names cannot hold ':'. */
export function parseVoiceRoom(room: string): VoiceRoomRef | undefined {
  if (CHANNEL_ROOM.test(room)) return { kind: 'channel', name: room };
  const dm = DM_ROOM.exec(room);
  if (!dm) return undefined;
  const conversationId = Number(dm[1]);
  return conversationId <= MAX_ID ? { kind: 'dm', conversationId } : undefined;
}

const ZVoiceRoom = z
  .string()
  .max(64)
  .refine((room) => parseVoiceRoom(room) !== undefined, {
    message: 'room must be a channel name or "dm:<conversation_id>"',
  });

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');

/** SDP offer/answer or ICE candidate: opaque to the server, but an object and bounded in size. */
const ZSignal = z
  .record(z.string(), z.unknown(), { error: 'signal must be an object' })
  .refine((signal) => jsonBytes(signal) <= VoiceLimits.MAX_SIGNAL_BYTES, {
    message: `signal must be at most ${VoiceLimits.MAX_SIGNAL_BYTES / 1024} KB`,
  });

const frame = <T extends VoiceClientType, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.strictObject({ type: z.literal(type), ...shape });

// The hub dispatches on `type` and validates the whole frame with the schema of that type
// (DESIGN.md rule 7); strict, so a typo in a field name is an error rather than silently ignored.
export const voiceClientSchemas = {
  [VoiceClientType.JOIN]: frame(VoiceClientType.JOIN, { room: ZVoiceRoom.optional() }),
  [VoiceClientType.LEAVE]: frame(VoiceClientType.LEAVE, {}),
  [VoiceClientType.SIGNAL]: frame(VoiceClientType.SIGNAL, {
    target_user_id: z.number().int().positive().max(MAX_ID),
    signal: ZSignal,
  }),
  [VoiceClientType.MUTE]: frame(VoiceClientType.MUTE, { muted: z.boolean() }),
  [VoiceClientType.DEAFEN]: frame(VoiceClientType.DEAFEN, { deafened: z.boolean() }),
  [VoiceClientType.SPEAKING]: frame(VoiceClientType.SPEAKING, { speaking: z.boolean() }),
} as const;

export const ZVoiceClientFrame = z.discriminatedUnion('type', [
  voiceClientSchemas[VoiceClientType.JOIN],
  voiceClientSchemas[VoiceClientType.LEAVE],
  voiceClientSchemas[VoiceClientType.SIGNAL],
  voiceClientSchemas[VoiceClientType.MUTE],
  voiceClientSchemas[VoiceClientType.DEAFEN],
  voiceClientSchemas[VoiceClientType.SPEAKING],
]);

export type VoiceClientFrame = z.infer<typeof ZVoiceClientFrame>;

export const isVoiceClientType = (type: unknown): type is VoiceClientType =>
  typeof type === 'string' && Object.hasOwn(voiceClientSchemas, type);

export type VoiceMember = { user_id: number; username: string; muted: boolean; deafened: boolean };

export type VoiceServerEvent =
  | { type: typeof VoiceServerType.STATE; room: string; members: VoiceMember[] }
  | ({ type: typeof VoiceServerType.USER_JOINED; room: string } & VoiceMember)
  | { type: typeof VoiceServerType.USER_LEFT; room: string; user_id: number }
  | { type: typeof VoiceServerType.SIGNAL; from_user_id: number; signal: Record<string, unknown> }
  | { type: typeof VoiceServerType.MUTE; user_id: number; muted: boolean }
  | { type: typeof VoiceServerType.DEAFEN; user_id: number; deafened: boolean }
  | { type: typeof VoiceServerType.SPEAKING; user_id: number; speaking: boolean };
