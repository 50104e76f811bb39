import { hmacHex, randomToken } from '../../core/crypto';
import { KEY_PREFIX, MEDIA_PATH_PREFIX } from './types';

// Keys of a stream. The publish key and RTMP tokens are credentials: the database keeps the
// publish key sealed (the owner may see it again) and both as keyed hashes (for lookups), so a
// dump reveals neither. The playback key is not a credential; it only names the stream in URLs.

const KEY_CHARS = /^[A-Za-z0-9_-]{16,128}$/;

export const newPublishKey = () => `${KEY_PREFIX.PUBLISH}${randomToken(24)}`;
export const newPlaybackKey = () => `${KEY_PREFIX.PLAYBACK}${randomToken(18)}`;
export const newRtmpToken = () => `${KEY_PREFIX.RTMP_TOKEN}${randomToken(24)}`;

export const publishKeyHash = (secretKey: Buffer, key: string) => hmacHex(secretKey, 'stream-key', key);
export const rtmpTokenHash = (secretKey: Buffer, token: string) => hmacHex(secretKey, 'rtmp-token', token);

export type KeyKind = 'publish' | 'playback' | 'rtmp_token';

/** Which kind of key a URL segment or MediaMTX path part is; undefined for anything else. */
export function keyKind(text: string): KeyKind | undefined {
  const kind = text.startsWith(KEY_PREFIX.PUBLISH)
    ? 'publish'
    : text.startsWith(KEY_PREFIX.PLAYBACK)
      ? 'playback'
      : text.startsWith(KEY_PREFIX.RTMP_TOKEN)
        ? 'rtmp_token'
        : undefined;
  return kind && KEY_CHARS.test(text) ? kind : undefined;
}

/** The MediaMTX path a publisher uses with this key or token. */
export const mediaPathOf = (key: string) => `${MEDIA_PATH_PREFIX}${key}`;

/** The key or token in a MediaMTX path (`live/<key>`), or undefined when the path is not ours. */
export function keyOfMediaPath(path: string): string | undefined {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  if (!trimmed.startsWith(MEDIA_PATH_PREFIX)) return undefined;
  const key = trimmed.slice(MEDIA_PATH_PREFIX.length);
  return key.includes('/') ? undefined : key;
}

/** Log lines and error texts never carry a credential: `live_abc…` → `live_***`. */
export const redactKeys = (text: string) => text.replace(/\b(live|rtmp)_[A-Za-z0-9_-]+/g, '$1_***');
