import type { PushDeps } from '../notifications/notify';

// Room and user events for /ws/portal (API.md §9) go through the Bus, so a change made on one node
// reaches sockets on every node. Each node's portal hub subscribes once to each topic and hands
// events to the sockets it holds; nothing here knows about sockets.

/** Room events: delivered to sockets that joined the room (`join_room`). */
export const ROOM_EVENTS_TOPIC = 'portal.rooms';
/** User events (`match_found`, …): delivered to every /ws/portal socket of those users. */
export const USER_EVENTS_TOPIC = 'portal.user-events';

/** A server → client frame: `{type, room_id, ...}`. */
export type PortalEvent = { type: string } & Record<string, unknown>;

export type RoomBusMessage =
  | { kind: 'event'; room_id: number; event: PortalEvent }
  /** The user is no longer a member (kicked, banned, left, room destroyed): sockets leave at once. */
  | { kind: 'evict'; room_id: number; user_id: number | null; reason: string }
  /** A member's role or restrictions changed: hubs drop what they cached about them. */
  | { kind: 'member_changed'; room_id: number; user_id: number };

export type UserBusMessage = { user_ids: number[]; event: PortalEvent };

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

/** Removes a user's sockets from the room (null: everyone, when the room is destroyed). */
export function evictFromRoom(deps: PushDeps, roomId: number, userId: number | null, reason: string) {
  const message: RoomBusMessage = { kind: 'evict', room_id: roomId, user_id: userId, reason };
  return publish(deps, ROOM_EVENTS_TOPIC, message, 'evict');
}

export function announceMemberChange(deps: PushDeps, roomId: number, userId: number) {
  const message: RoomBusMessage = { kind: 'member_changed', room_id: roomId, user_id: userId };
  return publish(deps, ROOM_EVENTS_TOPIC, message, 'member_changed');
}

/** Sends `event` to every /ws/portal socket of `userIds`, on every node. */
export function publishUserEvent(deps: PushDeps, userIds: number[], event: PortalEvent): Promise<void> {
  const message: UserBusMessage = { user_ids: userIds, event };
  return publish(deps, USER_EVENTS_TOPIC, message, event.type);
}
