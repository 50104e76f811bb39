import type { Bus } from '../../core/bus/types';
import type { SecretBox } from '../../core/crypto';
import type { Env } from '../../core/env';
import type { RateLimiter } from '../../core/rate-limit';
import type { Db } from '../../db/client';
import type { streams } from '../../db/schema';
import type { StreamLifecycle } from './lifecycle';

// Shared vocabulary of streams (API.md §7, seed 002 "User Streams").

export type StreamRow = typeof streams.$inferSelect;

/** `is_live` of seed 002: 0 offline, 1 live, 2 encoding (VOD finalisation in progress). */
export const LIVE = { OFFLINE: 0, LIVE: 1, ENCODING: 2 } as const;

/** Key prefixes: the publish key, the playback key and the temporary plain-RTMP token. */
export const KEY_PREFIX = { PUBLISH: 'live_', PLAYBACK: 'pub_', RTMP_TOKEN: 'rtmp_' } as const;

/** MediaMTX paths are `live/<publish key or rtmp token>`: what OBS sends to `…/live` + the key. */
export const MEDIA_PATH_PREFIX = 'live/';

export const STREAM_LIMITS = { TITLE_MAX: 100, DESCRIPTION_MAX: 2000, BAN_REASON_MAX: 500 } as const;

/** Who acts: the signed-in user as streams see them. */
export type StreamActor = { userId: number; username: string; level: number };

type StreamEnv = Pick<
  Env,
  | 'RTMP_PLAIN_ENABLED'
  | 'MEDIAMTX_URL'
  | 'MEDIAMTX_WEBRTC_URL'
  | 'MEDIAMTX_RTSP_URL'
  | 'MEDIAMTX_HOOK_SECRET'
  | 'PUBLIC_URL'
  | 'STREAM_RTMPS_URL'
  | 'STREAM_RTMP_URL'
  | 'FFMPEG_PATH'
  | 'STREAMS_PER_USER'
  | 'RTMP_TOKEN_TTL_SECONDS'
  | 'RTMP_TOKEN_GRACE_SECONDS'
  | 'THUMBNAIL_CACHE_SECONDS'
  | 'THUMBNAIL_MAX_BYTES'
  | 'TRUST_PROXY'
  | 'CHAT_RATE_MESSAGES'
  | 'CHAT_RATE_WINDOW_SECONDS'
>;

/** Everything a stream service may need; AppDeps with a request's db/log fits. */
export type StreamDeps = {
  db: Db;
  bus: Bus;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  secretBox: SecretBox;
  secretKey: Buffer;
  rateLimiter: RateLimiter;
  env: StreamEnv;
  streamLifecycle: StreamLifecycle;
};
