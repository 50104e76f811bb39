import { eq } from 'drizzle-orm';
import type { z } from 'zod';
import { AppError, describeZodIssue } from '../../core/errors';
import { rooms } from '../../db/schema';
import type { AppDeps } from '../../deps';
import { requireMembership, roomNotFound } from '../../services/rooms/access';
import { browserNotRunning } from '../../services/rooms/browser/browser-errors';
import { ZBrowserInput } from '../../services/rooms/browser/runtime';
import { roomViewersSet } from '../../services/rooms/browser-host';
import {
  clearControlOf,
  giveControl,
  releaseControl,
  requestControl,
  takeControl,
} from '../../services/rooms/control';
import {
  type EvictMessage,
  onLocalEvict,
  ROOM_EVENTS_TOPIC,
  type RoomBusMessage,
} from '../../services/rooms/events';
import { memberCount } from '../../services/rooms/rooms';
import { openClipboard, roomView } from '../../services/rooms/views';
import type { RealtimeTransport } from '../types';
import type { PortalUser } from './auth';
import { definePortalHandler, type PortalSocket } from './handlers';
import type { PortalHub } from './hub';
import { clientSchemas } from './messages';
import { PortalClientType, PortalServerType, PortalTiming, RoomEventType, roomTopic } from './protocol';
import { createUserStateCache, restricted } from './user-state';

// Rooms on /ws/portal (API.md §9): a socket joins one room at a time and then receives the room's
// events (published by the rooms services through the Bus) and, unless it asked not to, the
// browser's screen as binary JPEG frames. Frames go socket by socket so a slow viewer only misses
// frames (never grows server memory); events go through the transport's topic fan-out. The member
// in control sends input; control handover goes through services/rooms/control.ts. Site-wide bans
// and timeouts refuse control frames (read fresh) and input (read through user-state.ts).

type LocalRoom = {
  id: number;
  sockets: Set<PortalSocket>;
  viewers: Set<PortalSocket>;
  /**
   * Screen-watching sockets per user here, for the room's cluster-wide viewer presence: a browser
   * nobody watches is stopped after BROWSER_IDLE_SECONDS (events-only sockets do not keep it).
   */
  users: Map<number, number>;
  holder: number | null;
  running: boolean;
  browserNode: string | null;
  unwatch: (() => void) | null;
  watching: boolean;
};

/** socket.state keys: the joined room, and its user (first-message auth leaves socket.auth empty). */
const ROOM_KEY = 'roomId';
const USER_KEY = 'roomUserId';
/** The socket's input still waiting for a state read: later input queues behind it, in order. */
const INPUT_KEY = 'roomInput';

/** A join_room between its membership check and its registration: evictions meanwhile count. */
type PendingJoin = { roomId: number; userId: number; evicted: boolean };

export async function registerRoomHandlers(opts: {
  hub: PortalHub;
  transport: RealtimeTransport;
  deps: AppDeps;
}) {
  const { hub, transport, deps } = opts;
  const { db } = deps.database;
  const log = deps.log.child({ component: 'ws-portal-rooms' });
  const host = deps.browsers;
  const serviceDeps = { db, bus: deps.bus, log };
  const local = new Map<number, LocalRoom>();
  const pendingJoins = new Set<PendingJoin>();
  const userStates = await createUserStateCache({
    db,
    bus: deps.bus,
    ttlMs: PortalTiming.USER_STATE_TTL_MS,
  });
  const viewerMember = (userId: number) => `${host.nodeId}:${userId}`;

  const joinedRoom = (socket: PortalSocket) => socket.state[ROOM_KEY] as number | undefined;

  function deliverFrame(room: LocalRoom, jpeg: Buffer) {
    for (const viewer of room.viewers) {
      if (viewer.bufferedAmount > PortalTiming.FRAME_SKIP_BUFFERED_BYTES) continue;
      viewer.send(jpeg, true);
    }
  }

  function stopWatching(room: LocalRoom) {
    room.unwatch?.();
    room.unwatch = null;
  }

  /** Frames flow while the browser runs and someone here watches. */
  function syncWatching(room: LocalRoom) {
    const wanted = room.running && room.viewers.size > 0;
    if (!wanted) return stopWatching(room);
    if (room.unwatch || room.watching) return;
    room.watching = true;
    host
      .watchFrames(room.id, (jpeg) => deliverFrame(room, jpeg))
      .then((unwatch) => {
        room.watching = false;
        if (room.running && room.viewers.size > 0 && local.get(room.id) === room) room.unwatch = unwatch;
        else unwatch();
      })
      .catch((err: unknown) => {
        room.watching = false;
        log.warn({ err, room_id: room.id }, 'could not watch screen frames');
      });
  }

  /** Browser state as the database has it (after a start/stop event, or at join). */
  async function refresh(room: LocalRoom) {
    const [row] = await db
      .select({ state: rooms.browserState, node: rooms.browserNode, holder: rooms.controlUserId })
      .from(rooms)
      .where(eq(rooms.id, room.id));
    room.running = row?.state === 'running';
    room.browserNode = row?.node ?? null;
    room.holder = row?.holder ?? null;
    syncWatching(room);
  }

  function addViewerPresence(roomId: number, userId: number) {
    deps.bus
      .presenceAdd(roomViewersSet(roomId), viewerMember(userId), PortalTiming.PRESENCE_TTL_MS)
      .catch((err) => {
        log.warn({ err, room_id: roomId }, 'room presence add failed');
      });
  }

  /** Takes a socket out of its room (it stays connected). */
  function leave(socket: PortalSocket, userId: number, reason: string | null) {
    const roomId = joinedRoom(socket);
    if (roomId === undefined) return;
    delete socket.state[ROOM_KEY];
    socket.unsubscribe(roomTopic(roomId));
    if (reason) socket.sendJson({ type: PortalServerType.ROOM_LEFT, room_id: roomId, reason });
    const room = local.get(roomId);
    if (!room) return;
    room.sockets.delete(socket);
    if (room.viewers.delete(socket)) {
      const left = (room.users.get(userId) ?? 1) - 1;
      if (left > 0) room.users.set(userId, left);
      else {
        room.users.delete(userId);
        deps.bus.presenceRemove(roomViewersSet(roomId), viewerMember(userId)).catch(() => {});
      }
    }
    syncWatching(room);
    if (room.sockets.size === 0) local.delete(roomId);
  }

  /** The room a room action names, which must be the one this socket joined. */
  function roomOf(socket: PortalSocket, named: number | undefined): LocalRoom {
    const joined = joinedRoom(socket);
    const roomId = named ?? joined;
    if (roomId === undefined) throw new AppError('BAD_REQUEST', 'Join a room first (join_room)');
    const room = joined === roomId ? local.get(roomId) : undefined;
    if (!room) throw new AppError('BAD_REQUEST', 'This socket has not joined that room');
    return room;
  }

  /** Site-wide timeouts and bans also stop room actions (API.md §1 "WebSocket actions"). */
  async function assertActive(user: PortalUser, fresh = true) {
    const state = await userStates.check(user.userId, fresh);
    if (!state.active) throw restricted(state.expiresAt);
  }

  /** Removes sockets from a room per an eviction (from the Bus, or locally when the Bus failed). */
  function evict(message: EvictMessage) {
    const hits = (userId: number) => message.user_id === null || userId === message.user_id;
    for (const pending of pendingJoins)
      if (pending.roomId === message.room_id && hits(pending.userId)) pending.evicted = true;
    const room = local.get(message.room_id);
    if (!room) return;
    for (const socket of [...room.sockets]) {
      const userId = socket.state[USER_KEY] as number;
      if (hits(userId)) leave(socket, userId, message.reason);
    }
  }

  const caller = (user: PortalUser) => ({ userId: user.userId, level: user.level });

  hub.on(
    PortalClientType.JOIN_ROOM,
    definePortalHandler({
      schema: clientSchemas[PortalClientType.JOIN_ROOM],
      requiresUser: true,
      async handle({ socket, user, send }, message) {
        const me = user!;
        // An eviction published while the membership is read must not be lost: it marks the
        // pending join, which is then refused as if the check had come after it.
        const pending: PendingJoin = { roomId: message.room_id, userId: me.userId, evicted: false };
        pendingJoins.add(pending);
        let membership: Awaited<ReturnType<typeof requireMembership>>;
        try {
          membership = await requireMembership(db, message.room_id, me.userId);
        } finally {
          pendingJoins.delete(pending);
        }
        if (pending.evicted) throw roomNotFound();
        const { room: row, role } = membership;
        if (socket.closed) return;
        if (joinedRoom(socket) !== undefined) leave(socket, me.userId, 'switched');
        let room = local.get(row.id);
        if (!room) {
          room = {
            id: row.id,
            sockets: new Set(),
            viewers: new Set(),
            users: new Map(),
            holder: row.controlUserId,
            running: row.browserState === 'running',
            browserNode: row.browserNode,
            unwatch: null,
            watching: false,
          };
          local.set(row.id, room);
        }
        socket.state[ROOM_KEY] = row.id;
        socket.state[USER_KEY] = me.userId;
        room.sockets.add(socket);
        socket.subscribe(roomTopic(row.id));
        if (message.screen) {
          room.viewers.add(socket);
          room.users.set(me.userId, (room.users.get(me.userId) ?? 0) + 1);
          addViewerPresence(row.id, me.userId);
        }
        send({
          type: PortalServerType.ROOM_JOINED,
          room_id: row.id,
          chat: roomView(row, { role, memberCount: await memberCount(db, row.id) }),
          holder_user_id: row.controlUserId,
          clipboard: openClipboard(deps.secretBox, row.clipboard),
          screen: message.screen,
        });
        // A screencast only sends frames when the page changes: a new viewer of a still page
        // starts from a screenshot.
        if (message.screen && row.browserState === 'running') {
          host
            .screenshot(row)
            .then((jpeg) => socket.send(jpeg, true))
            .catch((err) => log.debug({ err, room_id: row.id }, 'no first frame'));
        }
        syncWatching(room);
      },
    }),
  );

  hub.on(
    PortalClientType.LEAVE_ROOM,
    definePortalHandler({
      schema: clientSchemas[PortalClientType.LEAVE_ROOM],
      requiresUser: true,
      handle({ socket, user }, message) {
        roomOf(socket, message.room_id);
        leave(socket, user!.userId, 'left');
      },
    }),
  );

  type ControlType =
    | typeof PortalClientType.CONTROL_REQUEST
    | typeof PortalClientType.CONTROL_RELEASE
    | typeof PortalClientType.CONTROL_GIVE
    | typeof PortalClientType.CONTROL_TAKE;

  /** Control handover frames: on the socket's room, through services/rooms/control.ts. */
  function onControl<T extends ControlType>(
    type: T,
    run: (user: PortalUser, roomId: number, message: z.infer<(typeof clientSchemas)[T]>) => Promise<unknown>,
  ) {
    hub.on(
      type,
      definePortalHandler({
        schema: clientSchemas[type],
        requiresUser: true,
        async handle({ socket, user }, raw) {
          // The schema checked it; TypeScript cannot narrow an indexed schema inside a generic.
          const message = raw as z.infer<(typeof clientSchemas)[T]> & { room_id?: number };
          const room = roomOf(socket, message.room_id);
          // Giving control up is always allowed; taking or handing it needs an active account.
          if (type !== PortalClientType.CONTROL_RELEASE) await assertActive(user!);
          await run(user!, room.id, message);
        },
      }),
    );
  }

  onControl(PortalClientType.CONTROL_REQUEST, (user, roomId) =>
    requestControl({ ...serviceDeps, username: user.username }, caller(user), roomId),
  );
  onControl(PortalClientType.CONTROL_RELEASE, (user, roomId) =>
    releaseControl(serviceDeps, caller(user), roomId),
  );
  onControl(PortalClientType.CONTROL_GIVE, (user, roomId, message) =>
    giveControl(serviceDeps, caller(user), roomId, message.user_id),
  );
  onControl(PortalClientType.CONTROL_TAKE, (user, roomId) => takeControl(serviceDeps, caller(user), roomId));

  /** Applies one input event once the sender's site state is known to be active. */
  function applyInput(
    room: LocalRoom,
    user: PortalUser,
    event: z.infer<typeof ZBrowserInput>,
    active: boolean,
  ) {
    if (!active) {
      // Restricted site-wide while holding control: the holder loses it (once, then refused).
      if (room.holder === user.userId) {
        clearControlOf(serviceDeps, room.id, user.userId).catch((err) =>
          log.warn({ err, room_id: room.id }, 'control of a restricted user not cleared'),
        );
      }
      return false;
    }
    if (!room.running || !room.browserNode) throw browserNotRunning();
    if (room.holder !== user.userId)
      throw new AppError('FORBIDDEN', 'You do not have control of the browser');
    host.input(room.id, room.browserNode, event);
    return true;
  }

  hub.on(
    PortalClientType.INPUT,
    definePortalHandler({
      schema: clientSchemas[PortalClientType.INPUT],
      requiresUser: true,
      handle({ socket, user }, message) {
        const me = user!;
        const room = roomOf(socket, message.room_id);
        const { type: _type, room_id: _room, ...event } = message;
        const parsed = ZBrowserInput.safeParse(event);
        if (!parsed.success) throw new AppError('BAD_REQUEST', describeZodIssue(parsed.error.issues[0]!));
        const queued = socket.state[INPUT_KEY] as Promise<unknown> | undefined;
        const cached = queued ? undefined : userStates.peek(me.userId);
        if (cached) {
          if (!applyInput(room, me, parsed.data, cached.active)) throw restricted(cached.expiresAt);
          return;
        }
        // No fresh state: this input (and any after it on this socket) waits for one read.
        const run = (queued ?? Promise.resolve())
          .catch(() => {})
          .then(async () => {
            const state = await userStates.check(me.userId);
            if (!applyInput(room, me, parsed.data, state.active)) throw restricted(state.expiresAt);
          });
        socket.state[INPUT_KEY] = run;
        void run
          .catch(() => {})
          .finally(() => {
            if (socket.state[INPUT_KEY] === run) delete socket.state[INPUT_KEY];
          });
        return run;
      },
    }),
  );

  hub.onSocketClose((socket, user) => leave(socket, user.userId, null));

  const unregisterEvict = onLocalEvict(deps.bus, evict);
  const unsubscribe = await deps.bus.subscribe(ROOM_EVENTS_TOPIC, (raw) => {
    const message = raw as RoomBusMessage;
    if (message.kind === 'evict') return evict(message);
    const room = local.get(message.room_id);
    if (!room || message.kind !== 'event') return;
    const { event } = message;
    if (event.type === RoomEventType.CONTROL_STATE)
      room.holder = (event.holder_user_id as number | null) ?? null;
    if (event.type === RoomEventType.CHAT_STATE) {
      room.running = event.state === 'running';
      if (room.running) void refresh(room).catch((err) => log.warn({ err }, 'room refresh failed'));
      else {
        room.browserNode = null;
        room.holder = null;
        syncWatching(room);
      }
    }
    transport.publish(roomTopic(room.id), JSON.stringify(event));
  });

  const presenceTimer = setInterval(() => {
    for (const room of local.values())
      for (const userId of room.users.keys()) addViewerPresence(room.id, userId);
  }, PortalTiming.PRESENCE_REFRESH_MS);
  presenceTimer.unref();

  return {
    async close() {
      clearInterval(presenceTimer);
      unregisterEvict();
      for (const room of local.values()) stopWatching(room);
      local.clear();
      await unsubscribe().catch(() => {});
      await userStates.close().catch(() => {});
    },
  };
}
