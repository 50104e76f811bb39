import { randomUUID } from 'node:crypto';
import type { Bus } from '../../core/bus/types';
import { AppError, describeZodIssue } from '../../core/errors';
import { createLocalSessions, memberOf, type Session } from './local-sessions';
import {
  parseVoiceRoom,
  VoiceClientType,
  VoiceLimits,
  VoiceMessages,
  type VoiceServerEvent,
  VoiceServerType,
  ZVoiceClientFrame,
} from './protocol';
import { createKeyedSerial } from './serial';
import {
  type EvictMessage,
  latestByUser,
  readPointers,
  readRoomEntries,
  removeSessionEntries,
  toMember,
  VOICE_EVICT_TOPIC,
  voiceRoomSet,
  voiceUserSet,
} from './store';

// Voice signalling for /ws/chat (seed 002 "Voice Signaling", API.md §8), without any transport.
//
// The hub calls `handle(socket, frame)` for every `voice_*` frame and `disconnect(socketId)` when a
// socket closes; both return Deliveries, which the hub routes through the Bus (see router.ts):
//   { to: 'room', room, event, exceptUserId? }  every socket in that voice room, on any node
//   { to: 'socket', nodeId, socketId, event }  one socket (the joiner, a signal's target, a tab
//                                                whose voice session another tab took over)
// Each node answers "which of my sockets get this?" with `localRecipients(delivery)`.
// A refusal is a thrown AppError, to be sent to the socket as an `error` frame.
//
// Cluster design. Per node, in memory: the voice sessions of this node's sockets (room, mute and
// deafen state, the speaking rate limit). Cluster-wide, in Bus presence sets (store.ts): one entry
// per session in its room's set, carrying the user's state and the owning node and socket, and a
// per-user pointer set used to end the user's other session on join (a user is in at most one voice
// room, with one socket). Entries are refreshed every `refreshMs` and expire after `ttlMs`, so a
// crashed node's members vanish by themselves (without a `voice_user_left`: peers see the WebRTC
// connection drop). A node that ends a session owned by another node removes its entries and
// publishes an eviction on VOICE_EVICT_TOPIC so the owner forgets the session too.
//
// Room capacity is "add, then count": a joiner adds its entry, reads the room, and backs out if it
// made the room exceed the limit. Of two racing joiners for the last place the later reader always
// sees both, so the room never overfills; at worst both are refused and one retries.
//
// `voice_speaking` is rate-limited per user to one frame per 100 ms on the owning node (the session
// lives on one node, so no Bus round trip is needed); extra frames are dropped silently, as seed 002
// calls it an indicator: clients send their current state again on the next change.

export type VoiceSocket = {
  socketId: string;
  userId: number;
  username: string;
  /** The text channel the socket has joined, the default room of `voice_join`. */
  currentChannel?: string;
};

type RoomDelivery = { to: 'room'; room: string; event: VoiceServerEvent; exceptUserId?: number };
type SocketDelivery = { to: 'socket'; nodeId: string; socketId: string; event: VoiceServerEvent };
export type VoiceDelivery = RoomDelivery | SocketDelivery;

type Log = { warn(obj: object, msg?: string): void };

export type VoiceSignallingOptions = {
  bus: Bus;
  /** May this user be in this voice room: the channel is readable by them, or they are in the DM. */
  canJoin: (userId: number, room: string) => Promise<boolean>;
  now?: () => number;
  /** Unique per process; entries name it so signals reach the socket's node. */
  nodeId?: string;
  maxMembers?: number;
  speakingIntervalMs?: number;
  ttlMs?: number;
  refreshMs?: number;
  log?: Log;
};

export type VoiceSignalling = Awaited<ReturnType<typeof createVoiceSignalling>>;

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_REFRESH_MS = 20_000;

const refuse = (code: 'BAD_REQUEST' | 'FORBIDDEN' | 'CONFLICT', message: string) =>
  new AppError(code, message);

export async function createVoiceSignalling(opts: VoiceSignallingOptions) {
  const { bus, canJoin } = opts;
  const now = opts.now ?? Date.now;
  const nodeId = opts.nodeId ?? randomUUID();
  const maxMembers = opts.maxMembers ?? VoiceLimits.MAX_MEMBERS;
  const speakingIntervalMs = opts.speakingIntervalMs ?? VoiceLimits.SPEAKING_INTERVAL_MS;
  const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
  const log: Log = opts.log ?? { warn: (obj, msg) => console.warn(msg ?? 'voice warning', obj) };

  const sessions = createLocalSessions(nodeId);
  /** Sockets with a frame in progress or a session, so disconnect() finds the user's queue. */
  const socketUsers = new Map<string, number>();
  const serial = createKeyedSerial();
  const userKey = (userId: number) => `u:${userId}`;

  /** Best effort: what fails here expires with the TTL, and a leave must not fail for it. */
  const removeFromBus = async (s: Session) => {
    try {
      await bus.presenceRemove(voiceUserSet(s.userId), s.pointerRaw);
      await removeSessionEntries(bus, s.room, s.id);
    } catch (err) {
      log.warn({ err, user_id: s.userId, room: s.room }, 'voice: removing a session from the bus failed');
    }
  };

  const left = (room: string, userId: number): RoomDelivery => ({
    to: 'room',
    room,
    event: { type: VoiceServerType.USER_LEFT, room, user_id: userId },
  });

  const endLocal = async (s: Session): Promise<VoiceDelivery[]> => {
    sessions.untrack(s);
    await removeFromBus(s);
    return [left(s.room, s.userId)];
  };

  const unsubscribeEvict = await bus.subscribe(VOICE_EVICT_TOPIC, (message) => {
    const { node, id } = message as EvictMessage;
    if (node !== nodeId) return;
    const s = sessions.byId(id);
    if (!s) return;
    // Through the user's queue, so a frame of that socket in progress finishes first. The remote
    // node already told the room; removing again only clears an entry a refresh may have re-added.
    void serial.run(userKey(s.userId), async () => {
      if (sessions.byId(id) !== s) return;
      sessions.untrack(s);
      await removeFromBus(s);
    });
  });

  const timer = setInterval(() => {
    for (const s of sessions.all()) {
      Promise.all([
        bus.presenceAdd(voiceRoomSet(s.room), s.raw, ttlMs),
        bus.presenceAdd(voiceUserSet(s.userId), s.pointerRaw, ttlMs),
      ]).catch((err: unknown) => log.warn({ err, user_id: s.userId }, 'voice: refreshing a session failed'));
    }
  }, opts.refreshMs ?? DEFAULT_REFRESH_MS);
  timer.unref();

  const requireSession = (socketId: string) => {
    const s = sessions.bySocket(socketId);
    if (!s) throw refuse('BAD_REQUEST', VoiceMessages.NOT_IN_VOICE);
    return s;
  };

  const stateFor = async (room: string, self: Session): Promise<VoiceDelivery> => {
    const latest = latestByUser((await readRoomEntries(bus, room)).map((x) => x.entry));
    latest.delete(self.userId);
    const members = [...latest.values()].map(toMember);
    members.push(memberOf(self));
    members.sort((a, b) => a.user_id - b.user_id);
    return {
      to: 'socket',
      nodeId,
      socketId: self.socketId,
      event: { type: VoiceServerType.STATE, room, members },
    };
  };

  async function join(socket: VoiceSocket, requested: string | undefined): Promise<VoiceDelivery[]> {
    const room = requested ?? socket.currentChannel;
    if (!room || !parseVoiceRoom(room)) throw refuse('BAD_REQUEST', VoiceMessages.NO_ROOM);
    const current = sessions.bySocket(socket.socketId);
    if (current?.room === room) return [await stateFor(room, current)];
    if (!(await canJoin(socket.userId, room))) throw refuse('FORBIDDEN', VoiceMessages.FORBIDDEN);

    const session: Session = {
      id: randomUUID(),
      socketId: socket.socketId,
      userId: socket.userId,
      username: socket.username,
      room,
      // Moving between rooms keeps the microphone as the user set it.
      muted: current?.muted ?? false,
      deafened: current?.deafened ?? false,
      v: now(),
      raw: '',
      pointerRaw: '',
      lastSpeakingAt: current?.lastSpeakingAt ?? Number.NEGATIVE_INFINITY,
    };
    sessions.encode(session);
    await bus.presenceAdd(voiceRoomSet(room), session.raw, ttlMs);
    try {
      const entries = (await readRoomEntries(bus, room)).map((x) => x.entry);
      const users = new Set(entries.map((e) => e.u)).add(socket.userId);
      if (users.size > maxMembers) throw refuse('CONFLICT', VoiceMessages.FULL(maxMembers));
      await bus.presenceAdd(voiceUserSet(socket.userId), session.pointerRaw, ttlMs);
    } catch (err) {
      // Refused, or the bus failed: the entry must not hold a place (the TTL would, for a minute).
      await removeFromBus(session);
      throw err;
    }

    // The user's other sessions end here: another room of this socket, another tab, another node.
    const out: VoiceDelivery[] = [];
    for (const { raw, pointer } of await readPointers(bus, socket.userId)) {
      if (pointer.id === session.id) continue;
      await bus.presenceRemove(voiceUserSet(socket.userId), raw);
      await removeSessionEntries(bus, pointer.room, pointer.id);
      if (pointer.node === nodeId) {
        const local = sessions.byId(pointer.id);
        if (local) sessions.untrack(local);
      } else {
        await bus.publish(VOICE_EVICT_TOPIC, { node: pointer.node, id: pointer.id } satisfies EvictMessage);
      }
      out.push({ ...left(pointer.room, socket.userId), exceptUserId: socket.userId });
      if (pointer.node !== nodeId || pointer.sock !== socket.socketId) {
        out.push({
          to: 'socket',
          nodeId: pointer.node,
          socketId: pointer.sock,
          event: { type: VoiceServerType.USER_LEFT, room: pointer.room, user_id: socket.userId },
        });
      }
    }
    // This socket's previous session, should its pointer have expired from the bus meanwhile.
    const stale = sessions.bySocket(socket.socketId);
    if (stale) out.push(...(await endLocal(stale)));

    sessions.track(session);
    out.push(await stateFor(room, session));
    out.push({
      to: 'room',
      room,
      exceptUserId: socket.userId,
      event: { type: VoiceServerType.USER_JOINED, room, ...memberOf(session) },
    });
    return out;
  }

  /** Writes the new state entry before removing the old one: readers keep the higher `v`. */
  async function updateState(s: Session, change: { muted?: boolean; deafened?: boolean }) {
    const old = s.raw;
    Object.assign(s, change);
    s.v = Math.max(s.v + 1, now());
    sessions.encode(s);
    await bus.presenceAdd(voiceRoomSet(s.room), s.raw, ttlMs);
    await bus.presenceRemove(voiceRoomSet(s.room), old);
  }

  async function signal(s: Session, targetUserId: number, payload: Record<string, unknown>) {
    if (targetUserId === s.userId) throw refuse('BAD_REQUEST', VoiceMessages.SELF_SIGNAL);
    const latest = latestByUser((await readRoomEntries(bus, s.room)).map((x) => x.entry));
    const target = latest.get(targetUserId);
    if (!target) throw refuse('FORBIDDEN', VoiceMessages.TARGET_NOT_IN_ROOM);
    return [
      {
        to: 'socket',
        nodeId: target.node,
        socketId: target.sock,
        event: { type: VoiceServerType.SIGNAL, from_user_id: s.userId, signal: payload },
      },
    ] satisfies VoiceDelivery[];
  }

  async function dispatch(socket: VoiceSocket, frame: unknown): Promise<VoiceDelivery[]> {
    const parsed = ZVoiceClientFrame.safeParse(frame);
    if (!parsed.success) throw refuse('BAD_REQUEST', describeZodIssue(parsed.error.issues[0]!));
    const f = parsed.data;
    switch (f.type) {
      case VoiceClientType.JOIN:
        return join(socket, f.room);
      case VoiceClientType.LEAVE: {
        const s = sessions.bySocket(socket.socketId);
        return s ? endLocal(s) : [];
      }
      case VoiceClientType.SIGNAL:
        return signal(requireSession(socket.socketId), f.target_user_id, f.signal);
      case VoiceClientType.MUTE: {
        const s = requireSession(socket.socketId);
        await updateState(s, { muted: f.muted });
        const event = { type: VoiceServerType.MUTE, user_id: s.userId, muted: f.muted } as const;
        return [{ to: 'room', room: s.room, event }];
      }
      case VoiceClientType.DEAFEN: {
        const s = requireSession(socket.socketId);
        await updateState(s, { deafened: f.deafened });
        const event = { type: VoiceServerType.DEAFEN, user_id: s.userId, deafened: f.deafened } as const;
        return [{ to: 'room', room: s.room, event }];
      }
      case VoiceClientType.SPEAKING: {
        // Dropped silently, not refused: a late indicator after leaving, or one too many, is noise.
        const s = sessions.bySocket(socket.socketId);
        const t = now();
        if (!s || t - s.lastSpeakingAt < speakingIntervalMs) return [];
        s.lastSpeakingAt = t;
        const event = { type: VoiceServerType.SPEAKING, user_id: s.userId, speaking: f.speaking } as const;
        return [{ to: 'room', room: s.room, exceptUserId: s.userId, event }];
      }
    }
  }

  return {
    nodeId,

    /** One `voice_*` frame of a socket; throws an AppError when the frame is refused. */
    handle(socket: VoiceSocket, frame: unknown): Promise<VoiceDelivery[]> {
      socketUsers.set(socket.socketId, socket.userId);
      return serial.run(userKey(socket.userId), () => dispatch(socket, frame));
    },

    /** The socket closed: its voice session ends. Never throws; call it last for a socket. */
    async disconnect(socketId: string): Promise<VoiceDelivery[]> {
      const userId = socketUsers.get(socketId) ?? sessions.bySocket(socketId)?.userId;
      if (userId === undefined) return [];
      return serial.run(userKey(userId), async () => {
        socketUsers.delete(socketId);
        const s = sessions.bySocket(socketId);
        return s ? endLocal(s) : [];
      });
    },

    /**
     * Access to `room` may have changed: this node's sessions there whose user may no longer join
     * end (voice_user_left to the room and to the user's own socket).
     */
    async recheck(room: string): Promise<VoiceDelivery[]> {
      const out: VoiceDelivery[] = [];
      for (const s of [...sessions.inRoom(room)]) {
        const ended = await serial.run(userKey(s.userId), async (): Promise<VoiceDelivery[]> => {
          if (sessions.byId(s.id) !== s || (await canJoin(s.userId, s.room))) return [];
          const own: VoiceDelivery = {
            to: 'socket',
            nodeId,
            socketId: s.socketId,
            event: { type: VoiceServerType.USER_LEFT, room: s.room, user_id: s.userId },
          };
          return [...(await endLocal(s)), own];
        });
        out.push(...ended);
      }
      return out;
    },

    /** A channel was renamed: this node's sessions in its voice room move to the new name. */
    async rename(from: string, to: string): Promise<void> {
      for (const s of [...sessions.inRoom(from)]) {
        await serial.run(userKey(s.userId), async () => {
          if (sessions.byId(s.id) !== s) return;
          const [oldRaw, oldPointer] = [s.raw, s.pointerRaw];
          sessions.untrack(s);
          s.room = to;
          sessions.encode(s);
          sessions.track(s);
          // New entries first, so the session is never missing from the cluster's view.
          await bus.presenceAdd(voiceRoomSet(to), s.raw, ttlMs);
          await bus.presenceAdd(voiceUserSet(s.userId), s.pointerRaw, ttlMs);
          await bus.presenceRemove(voiceRoomSet(from), oldRaw);
          await bus.presenceRemove(voiceUserSet(s.userId), oldPointer);
        });
      }
    },

    /** Which sockets of this node receive a delivery. */
    localRecipients(delivery: VoiceDelivery): string[] {
      if (delivery.to === 'socket') return delivery.nodeId === nodeId ? [delivery.socketId] : [];
      const out: string[] = [];
      for (const s of sessions.inRoom(delivery.room)) {
        if (s.userId !== delivery.exceptUserId) out.push(s.socketId);
      }
      return out;
    },

    /** The voice room of a socket of this node, if it is in one. */
    roomOf(socketId: string): string | undefined {
      return sessions.bySocket(socketId)?.room;
    },

    /** Stops the refresh timer and the eviction subscription; disconnect sockets first to leave cleanly. */
    async close(): Promise<void> {
      clearInterval(timer);
      await unsubscribeEvict().catch(() => {});
    },
  };
}
