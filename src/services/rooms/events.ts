import type { Bus } from '../../core/bus/types';
import type { PushDeps } from '../notifications/notify';

// Room and user events for /ws/portal (API.md §9) go through the Bus, so a change made on one node
// reaches sockets on every node. Each node's portal hub subscribes once to each topic and hands
// events to the sockets it holds; nothing here knows about sockets.

/** Room events: delivered to sockets that joined the room (`join_room`). */
export const ROOM_EVENTS_TOPIC = 'portal.rooms';
/** User events (`match_found`, …): delivered to every /ws/portal socket of those users. */
export const USER_EVENTS_TOPIC = 'portal.user-events';
/** A user's site state changed (banned, timed out, restored): hubs drop what they cached of it. */
export const USER_STATE_TOPIC = 'portal.user-state';

/** A server → client frame: `{type, room_id, ...}`. */
export type PortalEvent = { type: string } & Record<string, unknown>;

export type RoomBusMessage =
  | { kind: 'event'; room_id: number; event: PortalEvent }
  /** The user is no longer a member (kicked, banned, left, room destroyed): sockets leave at once. */
  | { kind: 'evict'; room_id: number; user_id: number | null; reason: string };

export type EvictMessage = Extract<RoomBusMessage, { kind: 'evict' }>;

export type UserBusMessage = { user_ids: number[]; event: PortalEvent };

export type UserStateMessage = { user_id: number };

/**
 * This node's hubs, per Bus: when publishing an eviction fails, they still evict the sockets they
 * hold, so a Bus outage never leaves a removed member listening on this node.
 */
const localEvictors = new WeakMap<Bus, Set<(message: EvictMessage) => void>>();

/** A hub registers how it evicts its own sockets; returns the unregister function. */
export function onLocalEvict(bus: Bus, evict: (message: EvictMessage) => void): () => void {
  let set = localEvictors.get(bus);
  if (!set) {
    set = new Set();
    localEvictors.set(bus, set);
  }
  set.add(evict);
  return () => set.delete(evict);
}

async function publish(deps: PushDeps, topic: string, message: unknown, what: string) {
  try {
    await deps.bus.publish(topic, message);
  } catch (err) {
    // The database holds the record; a Bus outage costs the live push only.
    deps.log.warn({ err, what }, 'room event stored but not pushed');
  }
}

/** Sends `event` (with `room_id` added) to every socket joined to the room, on every node. */
export function publishRoomEvent(deps: PushDeps, roomId: number, event: PortalEvent): Promise<void> {
  const message: RoomBusMessage = { kind: 'event', room_id: roomId, event: { ...event, room_id: roomId } };
  return publish(deps, ROOM_EVENTS_TOPIC, message, event.type);
}

/**
 * Removes a user's sockets from the room (null: everyone, when the room is destroyed), on every
 * node. If the Bus refuses the message, this node's sockets are still evicted and the failure is
 * logged: other nodes' sockets of a removed member keep hearing the room until the
 * Bus is back (their next room action is refused: membership is checked in the database).
 */
export async function evictFromRoom(deps: PushDeps, roomId: number, userId: number | null, reason: string) {
  const message: EvictMessage = { kind: 'evict', room_id: roomId, user_id: userId, reason };
  try {
    await deps.bus.publish(ROOM_EVENTS_TOPIC, message);
  } catch (err) {
    deps.log.warn({ err, room_id: roomId, user_id: userId }, 'eviction not published; evicting locally');
    for (const evict of localEvictors.get(deps.bus) ?? []) evict(message);
  }
}

/** Tells every node's hubs that a user's site state changed (their cached state is stale). */
export function announceUserState(deps: PushDeps, userId: number): Promise<void> {
  const message: UserStateMessage = { user_id: userId };
  return publish(deps, USER_STATE_TOPIC, message, 'user_state');
}

/** Sends `event` to every /ws/portal socket of `userIds`, on every node. */
export function publishUserEvent(deps: PushDeps, userIds: number[], event: PortalEvent): Promise<void> {
  const message: UserBusMessage = { user_ids: userIds, event };
  return publish(deps, USER_EVENTS_TOPIC, message, event.type);
}
