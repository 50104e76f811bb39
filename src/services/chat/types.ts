import type { Bus } from '../../core/bus/types';
import type { SecretBox } from '../../core/crypto';
import type { RateLimiter } from '../../core/rate-limit';
import type { Db } from '../../db/client';
import type { channels, chatMessages } from '../../db/schema';

// Shared vocabulary of the channel chat (seed 002 "Chat/Forum", API.md §8).

export type ChannelRow = typeof channels.$inferSelect;
export type ChatMessageRow = typeof chatMessages.$inferSelect;

export const CHANNEL_VISIBILITIES = ['public', 'private'] as const;
export const CHANNEL_MODES = ['open', 'readonly'] as const;
export const CHANNEL_ROLES = ['member', 'moderator'] as const;
export type ChannelRole = (typeof CHANNEL_ROLES)[number];

/** `role` in payloads (API.md §0 "Roles in payloads"). */
export const PAYLOAD_ROLES = ['owner', 'admin', 'moderator', 'user'] as const;
export type PayloadRole = (typeof PAYLOAD_ROLES)[number];

export const CHANNEL_NAME = /^[a-z0-9-]{1,50}$/;

export const CHAT_LIMITS = {
  /** Channels one user may have created (API.md §8 "at most 10 each"). */
  CHANNELS_PER_USER: 10,
  MESSAGE_MAX: 4000,
  /** Seed 002: 5 messages per 5 seconds per user. */
  RATE_MESSAGES: 5,
  RATE_WINDOW_MS: 5_000,
  EDIT_WINDOW_MS: 5 * 60_000,
  HISTORY_DEFAULT: 50,
  HISTORY_MAX: 100,
  THREAD_DEPTH: 20,
  PREVIEW_CHARS: 100,
  DESCRIPTION_MAX: 500,
  EMOJI_MAX: 32,
  /** `pinned_messages` on join: the newest this many pins. */
  PINNED_MAX: 50,
  /** `users` on join: this many online users (by username), with `total` for the rest. */
  USERS_MAX: 200,
} as const;

/** The seed's exact rate-limit text. */
export const SLOW_DOWN = "Slow down! You're sending messages too fast.";

/** Uploaded chat images live here (POST /api/chat/upload); nothing else may be embedded. */
export const CHAT_UPLOAD_PREFIX = '/static/uploads/chat/';

/** Who acts: the signed-in user as chat sees them. */
export type ChatActor = { userId: number; username: string; level: number };

/** Everything a chat service may need; AppDeps and request contexts both fit. */
export type ChatDeps = {
  db: Db;
  bus: Bus;
  log: { warn(obj: object, msg?: string): void };
  secretBox: SecretBox;
  secretKey: Buffer;
  rateLimiter: RateLimiter;
  /**
   * CHAT_RATE_MESSAGES / CHAT_RATE_WINDOW_SECONDS (CHAT_LIMITS' 5 per 5 s when absent) and DATA_DIR
   * (where deleting a message deletes its no longer referenced upload), AUTOMOD_REGEX_TIMEOUT_MS.
   */
  env?: {
    CHAT_RATE_MESSAGES: number;
    CHAT_RATE_WINDOW_SECONDS: number;
    DATA_DIR?: string;
    AUTOMOD_REGEX_TIMEOUT_MS?: number;
  };
};
