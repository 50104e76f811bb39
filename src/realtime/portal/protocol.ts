import type { NotificationView } from '../../services/notifications/types';

// The /ws/portal protocol (API.md §9), shared with clients: JSON text frames `{type, ...}`.
// Screen frames are binary JPEG frames; everything else is JSON.

export const PORTAL_PATH = '/ws/portal';

/** Client → server `type`s. */
export const PortalClientType = {
  /** First-message authentication: `{type:"auth", token}` when the upgrade carried no credential. */
  AUTH: 'auth',
  PING: 'ping',
  /** `{room_id, screen?}`: receive the room's events (and, unless `screen:false`, its screen frames). */
  JOIN_ROOM: 'join_room',
  LEAVE_ROOM: 'leave_room',
  CONTROL_REQUEST: 'control_request',
  CONTROL_RELEASE: 'control_release',
  /** `{user_id}`: hand control to another member (holder or moderator+). */
  CONTROL_GIVE: 'control_give',
  /** Moderator+ take control from the current holder. */
  CONTROL_TAKE: 'control_take',
  /** `{kind: mouse|key|scroll|navigate, ...}` from the member in control. */
  INPUT: 'input',
} as const;

export type PortalClientType = (typeof PortalClientType)[keyof typeof PortalClientType];

/** Server → client `type`s. */
export const PortalServerType = {
  /** The socket is authenticated and subscribed: `{type, user:{id, username}, unread_count}`. */
  READY: 'ready',
  /** `{type, notification:{id, type, title, message, link, data, read, is_read, created_at}}`. */
  NOTIFICATION: 'notification',
  PONG: 'pong',
  /** `{type, message, status?, request?}`: the frame was refused; the connection stays open. */
  ERROR: 'error',
  /** `{room_id, chat, holder_user_id, clipboard, screen}`: the socket now receives the room's events. */
  ROOM_JOINED: 'room_joined',
  /** `{room_id, reason}`: the socket no longer receives the room (left, kicked, banned, destroyed). */
  ROOM_LEFT: 'room_left',
  /** `{room_id, partner:{id, username}}`: matchmaking paired this user into a direct chat. */
  MATCH_FOUND: 'match_found',
} as const;

/** Room events published by the rooms services (services/rooms/events.ts) and relayed as they are. */
export const RoomEventType = {
  CHAT_MESSAGE: 'chat_message',
  CHAT_MESSAGE_DELETED: 'chat_message_deleted',
  CHAT_CLEARED: 'chat_cleared',
  MEMBER_JOINED: 'member_joined',
  MEMBER_LEFT: 'member_left',
  MEMBER_ROLE: 'member_role',
  MODERATION: 'moderation',
  CHAT_STATE: 'chat_state',
  CHAT_CONFIG: 'chat_config',
  CLIPBOARD: 'clipboard',
  CONTROL_STATE: 'control_state',
  CONTROL_REQUESTED: 'control_requested',
  KEY_REGISTERED: 'key_registered',
} as const;

export type PortalReady = {
  type: typeof PortalServerType.READY;
  user: { id: number; username: string };
  unread_count: number;
};
export type PortalNotification = {
  type: typeof PortalServerType.NOTIFICATION;
  notification: NotificationView;
};
export type PortalPong = { type: typeof PortalServerType.PONG };
export type PortalError = { type: typeof PortalServerType.ERROR; message: string };
export type PortalServerMessage = PortalReady | PortalNotification | PortalPong | PortalError;

/** Transport topics: every authenticated socket joins its user's topic and the broadcast topic. */
export const PortalTopic = {
  ALL: 'portal:all',
  USER_PREFIX: 'portal:user:',
} as const;

export const userTopic = (userId: number) => `${PortalTopic.USER_PREFIX}${userId}`;

/** Sockets that joined a room subscribe to its topic (JSON events; screen frames go per socket). */
export const roomTopic = (roomId: number) => `portal:room:${roomId}`;

export const PortalTiming = {
  /** A socket that opened without a credential must send `auth` within this time (else 4401). */
  AUTH_TIMEOUT_MS: 10_000,
  /** Presence entries live this long unless refreshed... */
  PRESENCE_TTL_MS: 90_000,
  /** ...which every node does this often for the users it holds. */
  PRESENCE_REFRESH_MS: 30_000,
  /** A screen frame is skipped for a socket with more than this many bytes still queued. */
  FRAME_SKIP_BUFFERED_BYTES: 256 * 1024,
  /**
   * How long `input` trusts a user's cached site state. Bans and timeouts drop it at once through
   * the Bus; this only bounds how late an unban reaches input.
   */
  USER_STATE_TTL_MS: 5_000,
} as const;

/** Cluster-wide set of user ids with at least one open /ws/portal socket (read by GET /api/stats). */
export const ONLINE_USERS_SET = 'online-users';

/** Bus topic on which a node says a user's last socket there closed (see presence.ts). */
export const PRESENCE_TOPIC = 'portal.presence';
