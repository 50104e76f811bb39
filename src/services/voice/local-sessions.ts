import type { VoiceMember } from './protocol';
import { encodeEntry, encodePointer } from './store';

// This node's voice sessions: one per socket in voice. The hub routes room events with it
// (which of my sockets are in room R), and the refresh timer keeps their Bus entries alive.

export type Session = {
  /** Random per join, so a socket that leaves and joins again is a new session for the cluster. */
  id: string;
  socketId: string;
  userId: number;
  username: string;
  room: string;
  muted: boolean;
  deafened: boolean;
  /** Version of the state entry: readers keep each user's highest. */
  v: number;
  /** The member strings last written to the Bus, so they can be refreshed and removed exactly. */
  raw: string;
  pointerRaw: string;
  lastSpeakingAt: number;
};

export const memberOf = (s: Session): VoiceMember => ({
  user_id: s.userId,
  username: s.username,
  muted: s.muted,
  deafened: s.deafened,
});

export function createLocalSessions(nodeId: string) {
  const bySocket = new Map<string, Session>();
  const byId = new Map<string, Session>();
  const rooms = new Map<string, Set<Session>>();

  return {
    bySocket: (socketId: string) => bySocket.get(socketId),
    byId: (id: string) => byId.get(id),
    all: () => byId.values(),
    inRoom: (room: string): Iterable<Session> => rooms.get(room) ?? [],

    /** Recomputes the Bus member strings after a change of state. */
    encode(s: Session): void {
      s.raw = encodeEntry({
        u: s.userId,
        n: s.username,
        m: s.muted,
        d: s.deafened,
        v: s.v,
        id: s.id,
        node: nodeId,
        sock: s.socketId,
      });
      s.pointerRaw = encodePointer({ id: s.id, node: nodeId, sock: s.socketId, room: s.room });
    },

    track(s: Session): void {
      bySocket.set(s.socketId, s);
      byId.set(s.id, s);
      let set = rooms.get(s.room);
      if (!set) {
        set = new Set();
        rooms.set(s.room, set);
      }
      set.add(s);
    },

    /** Forgets a session on this node only; an empty room is forgotten with it. */
    untrack(s: Session): void {
      if (bySocket.get(s.socketId) === s) bySocket.delete(s.socketId);
      byId.delete(s.id);
      const set = rooms.get(s.room);
      set?.delete(s);
      if (set?.size === 0) rooms.delete(s.room);
    },
  };
}
