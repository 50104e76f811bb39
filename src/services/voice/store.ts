import type { Bus } from '../../core/bus/types';
import type { VoiceMember } from './protocol';

// The cluster-wide part of voice state, kept in Bus presence sets (the Bus has no key-value store,
// and presence sets already give TTL, so a crashed node's members disappear on their own):
//
//   voice:room:<room>  one member per voice session: the JSON of a RoomEntry. The entry carries the
//                      user's state (muted, deafened) so one read gives the whole `voice_state`, and it
//                      names the node and socket that own the session, so a signal can be addressed to
//                      exactly that socket. A state change adds the new entry, then removes the old
//                      one; readers keep each user's highest `v`, so the brief overlap is harmless.
//   voice:user:<id>    where that user's voice sessions are (JSON of a SessionPointer); normally one.
//                      A join reads it to end the user's other session (another room, tab or node).
//
// Only the node that owns a session writes its entries (single writer per entry); other nodes only
// delete entries of sessions they end.

export const voiceRoomSet = (room: string) => `voice:room:${room}`;
export const voiceUserSet = (userId: number) => `voice:user:${userId}`;
/** Tells a node that one of its sessions was ended elsewhere: `{node, id}`. */
export const VOICE_EVICT_TOPIC = 'voice:evict';

export type SessionPointer = { id: string; node: string; sock: string; room: string };

export type RoomEntry = {
  u: number;
  n: string;
  m: boolean;
  d: boolean;
  /** Write order within a session (and, roughly, across sessions: it starts at the clock). */
  v: number;
  id: string;
  node: string;
  sock: string;
};

export type EvictMessage = { node: string; id: string };

/** Key order is fixed, so the same entry always encodes to the same member string. */
export const encodeEntry = (e: RoomEntry) =>
  JSON.stringify({ u: e.u, n: e.n, m: e.m, d: e.d, v: e.v, id: e.id, node: e.node, sock: e.sock });

export const encodePointer = (p: SessionPointer) =>
  JSON.stringify({ id: p.id, node: p.node, sock: p.sock, room: p.room });

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

function parseJson(member: string): unknown {
  try {
    return JSON.parse(member);
  } catch {
    return undefined;
  }
}

/** Unreadable members (another version's format) are skipped rather than failing the whole room. */
export function decodeEntry(member: string): RoomEntry | undefined {
  const e = parseJson(member);
  if (!isObject(e)) return undefined;
  const ok =
    typeof e.u === 'number' &&
    typeof e.n === 'string' &&
    typeof e.m === 'boolean' &&
    typeof e.d === 'boolean' &&
    typeof e.v === 'number' &&
    typeof e.id === 'string' &&
    typeof e.node === 'string' &&
    typeof e.sock === 'string';
  return ok ? (e as RoomEntry) : undefined;
}

export function decodePointer(member: string): SessionPointer | undefined {
  const p = parseJson(member);
  if (!isObject(p)) return undefined;
  const ok =
    typeof p.id === 'string' &&
    typeof p.node === 'string' &&
    typeof p.sock === 'string' &&
    typeof p.room === 'string';
  return ok ? (p as SessionPointer) : undefined;
}

/** All entries of a room, as raw member strings with their decoded form. */
export async function readRoomEntries(
  bus: Bus,
  room: string,
): Promise<Array<{ raw: string; entry: RoomEntry }>> {
  const out: Array<{ raw: string; entry: RoomEntry }> = [];
  for (const raw of await bus.presenceMembers(voiceRoomSet(room))) {
    const entry = decodeEntry(raw);
    if (entry) out.push({ raw, entry });
  }
  return out;
}

/** One entry per user: the newest. Sorted by user id so `voice_state` is stable. */
export function latestByUser(entries: RoomEntry[]): Map<number, RoomEntry> {
  const byUser = new Map<number, RoomEntry>();
  for (const e of entries) {
    const seen = byUser.get(e.u);
    if (!seen || e.v > seen.v) byUser.set(e.u, e);
  }
  return new Map([...byUser].sort(([a], [b]) => a - b));
}

export const toMember = (e: RoomEntry): VoiceMember => ({
  user_id: e.u,
  username: e.n,
  muted: e.m,
  deafened: e.d,
});

/** The members of a voice room as `voice_state` lists them (for the hub, e.g. to show who is in voice). */
export async function voiceRoomMembers(bus: Bus, room: string): Promise<VoiceMember[]> {
  const entries = await readRoomEntries(bus, room);
  return [...latestByUser(entries.map((x) => x.entry)).values()].map(toMember);
}

export async function readPointers(
  bus: Bus,
  userId: number,
): Promise<Array<{ raw: string; pointer: SessionPointer }>> {
  const out: Array<{ raw: string; pointer: SessionPointer }> = [];
  for (const raw of await bus.presenceMembers(voiceUserSet(userId))) {
    const pointer = decodePointer(raw);
    if (pointer) out.push({ raw, pointer });
  }
  return out;
}

/** Removes every entry of session `id` from a room (the owner's and any stale ones). */
export async function removeSessionEntries(bus: Bus, room: string, id: string): Promise<void> {
  for (const { raw, entry } of await readRoomEntries(bus, room)) {
    if (entry.id === id) await bus.presenceRemove(voiceRoomSet(room), raw);
  }
}
