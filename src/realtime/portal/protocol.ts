import type { NotificationView } from '../../services/notifications/types';

// The /ws/portal protocol (API.md §9), shared with clients: JSON text frames `{type, ...}`.
// Room events, screen frames and match events join this file as they are built.

export const PORTAL_PATH = '/ws/portal';

/** Client → server `type`s. */
export const PortalClientType = {
  /** First-message authentication: `{type:"auth", token}` when the upgrade carried no credential. */
  AUTH: 'auth',
  PING: 'ping',
} as const;

export type PortalClientType = (typeof PortalClientType)[keyof typeof PortalClientType];

/** Server → client `type`s. */
export const PortalServerType = {
  /** The socket is authenticated and subscribed: `{type, user:{id, username}, unread_count}`. */
  READY: 'ready',
  /** `{type, notification:{id, type, title, message, link, data, read, is_read, created_at}}`. */
  NOTIFICATION: 'notification',
  PONG: 'pong',
  /** `{type, message}`: the frame was refused; the connection stays open. */
  ERROR: 'error',
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

export const PortalTiming = {
  /** A socket that opened without a credential must send `auth` within this time (else 4401). */
  AUTH_TIMEOUT_MS: 10_000,
  /** Presence entries live this long unless refreshed... */
  PRESENCE_TTL_MS: 90_000,
  /** ...which every node does this often for the users it holds. */
  PRESENCE_REFRESH_MS: 30_000,
} as const;

/** Cluster-wide set of user ids with at least one open /ws/portal socket (read by GET /api/stats). */
export const ONLINE_USERS_SET = 'online-users';

/** Bus topic on which a node says a user's last socket there closed (see presence.ts). */
export const PRESENCE_TOPIC = 'portal.presence';
