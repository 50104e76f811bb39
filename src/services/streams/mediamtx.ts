import { hmacHex, safeEqual } from '../../core/crypto';
import type { Env } from '../../core/env';
import { AppError } from '../../core/errors';

// Where MediaMTX is and how Portal talks to it. Portal reads (playback proxy, thumbnails, relays,
// recording) and publishes (WHIP proxy) as its own MediaMTX user `portal`, whose password is
// derived from the server key: MediaMTX hands it back to POST /api/mediamtx/auth, which lets it
// through, because Portal checked the viewer or publisher itself before it opened the request.

type MediaEnv = Pick<
  Env,
  'MEDIAMTX_URL' | 'MEDIAMTX_WEBRTC_URL' | 'MEDIAMTX_RTSP_URL' | 'MEDIAMTX_HOOK_SECRET'
>;

export const INTERNAL_USER = 'portal';

/** MediaMTX's default listeners (HLS 8888, WebRTC 8889, RTSP 8554). */
const DEFAULT_HLS = 'http://127.0.0.1:8888';

/** The password of Portal's own MediaMTX user (the same on every node sharing PORTAL_SECRET_KEY). */
export const internalPassword = (secretKey: Buffer) => hmacHex(secretKey, 'mediamtx-internal', 'v1');

export const isInternalCredential = (secretKey: Buffer, user: string, password: string) =>
  user === INTERNAL_USER && safeEqual(password, internalPassword(secretKey));

/** `Authorization` for Portal's requests to MediaMTX's HLS and WebRTC servers. */
export const internalAuthorization = (secretKey: Buffer) =>
  `Basic ${Buffer.from(`${INTERNAL_USER}:${internalPassword(secretKey)}`).toString('base64')}`;

/** The same host on another port and scheme (URL cannot switch a special scheme like http to rtsp). */
const withPort = (base: URL, protocol: string, port: string) =>
  new URL(`${protocol}//${base.hostname}:${port}/`);

export type MediaServer = { hls: URL; webrtc: URL; rtsp: URL };

/** MediaMTX's HLS, WebRTC and RTSP addresses; null when MEDIAMTX_URL is not configured. */
export function mediaServerOf(env: MediaEnv): MediaServer | null {
  if (!env.MEDIAMTX_URL) return null;
  return resolveServer(env);
}

function resolveServer(env: MediaEnv): MediaServer {
  const hls = new URL(env.MEDIAMTX_URL ?? DEFAULT_HLS);
  return {
    hls,
    webrtc: env.MEDIAMTX_WEBRTC_URL ? new URL(env.MEDIAMTX_WEBRTC_URL) : withPort(hls, hls.protocol, '8889'),
    rtsp: env.MEDIAMTX_RTSP_URL ? new URL(env.MEDIAMTX_RTSP_URL) : withPort(hls, 'rtsp:', '8554'),
  };
}

/** The configured media server, or 503 for the playback proxy and thumbnails. */
export function requireMediaServer(env: MediaEnv): MediaServer {
  const server = mediaServerOf(env);
  if (!server) throw new AppError('SERVICE_UNAVAILABLE', 'Streaming is not configured on this server');
  return server;
}

/** `base` + `/live/<key>/<rest>` (base paths of a reverse proxy in front of MediaMTX kept). */
export function mediaUrl(base: URL, mediaPath: string, rest = ''): URL {
  const url = new URL(base.toString());
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${mediaPath}${rest ? `/${rest}` : ''}`;
  url.search = '';
  return url;
}

/** Read URLs with Portal's credentials inside, for ffmpeg (thumbnails, relays, recording). */
export function readUrlsOf(env: MediaEnv, secretKey: Buffer, mediaPath: string) {
  const server = resolveServer(env);
  const withCredentials = (url: URL) => {
    url.username = INTERNAL_USER;
    url.password = internalPassword(secretKey);
    return url.toString();
  };
  return {
    rtsp: withCredentials(mediaUrl(server.rtsp, mediaPath)),
    hls: withCredentials(mediaUrl(server.hls, mediaPath, 'index.m3u8')),
  };
}

const isLoopback = (ip: string) => ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');

/**
 * The media-server hooks trust only MediaMTX: with MEDIAMTX_HOOK_SECRET set, the caller must send
 * it (`X-Portal-Hook-Secret`, or `?secret=` where MediaMTX cannot set headers: authHTTPAddress);
 * without it, only loopback callers (MediaMTX on the same host) are heard.
 */
export function checkHookCaller(env: MediaEnv, caller: { ip: string; header?: string; query?: string }) {
  const secret = env.MEDIAMTX_HOOK_SECRET;
  if (secret) {
    const given = caller.header ?? caller.query ?? '';
    if (!safeEqual(given, secret)) throw new AppError('UNAUTHORIZED', 'Invalid hook secret');
    return;
  }
  if (!isLoopback(caller.ip))
    throw new AppError('FORBIDDEN', 'Media-server hooks are only accepted from this host');
}
