// The /ws/chat protocol (API.md §9, seed 002 "WebSocket API"), shared with clients: JSON text
// frames `{type, ...}` with the seed's field names.

export const CHAT_PATH = '/ws/chat';

/** Client → server `type`s implemented by the hub and its handlers (polls, DMs, voice add theirs). */
export const ChatClientType = {
  /** First-message authentication when the upgrade carried no credential. */
  AUTH: 'auth',
  PING: 'ping',
  JOIN: 'join',
  /** `{channel}`: stop receiving a channel's events (not in the seed; the socket may join several). */
  LEAVE: 'leave',
  MESSAGE: 'message',
  DELETE: 'delete',
  REACT: 'react',
  EDIT_MESSAGE: 'edit_message',
  PIN_MESSAGE: 'pin_message',
  UNPIN_MESSAGE: 'unpin_message',
  MARK_READ: 'mark_read',
  TYPING: 'typing',
  BLOCK_USER: 'block_user',
  UNBLOCK_USER: 'unblock_user',
} as const;

/** Server → client `type`s sent by the hub itself (message events come from services/chat). */
export const ChatServerType = {
  /** `{user:{id, username}}`: the socket is authenticated. */
  READY: 'ready',
  PONG: 'pong',
  /** `{message}`: the frame was refused; the connection stays open. */
  ERROR: 'error',
  CHANNEL_INFO: 'channel_info',
  HISTORY: 'history',
  PINNED_MESSAGES: 'pinned_messages',
  USERS: 'users',
  USER_JOINED: 'user_joined',
  USER_LEFT: 'user_left',
  USER_BLOCKED: 'user_blocked',
  USER_UNBLOCKED: 'user_unblocked',
} as const;

export const ChatTiming = {
  AUTH_TIMEOUT_MS: 10_000,
  PRESENCE_TTL_MS: 90_000,
  PRESENCE_REFRESH_MS: 30_000,
} as const;

/** Channels one socket may have joined at once. */
export const MAX_JOINED_CHANNELS = 100;

/** Transport topic of a channel's sockets on this node. */
export const channelTopic = (channelId: number) => `chat:channel:${channelId}`;
/** Every authenticated /ws/chat socket on this node. */
export const ALL_TOPIC = 'chat:all';
/** Cluster-wide presence set of a channel: members are `<node>:<user id>`. */
export const channelPresenceSet = (channelId: number) => `chat-channel:${channelId}`;
