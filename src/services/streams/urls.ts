import type { Env } from '../../core/env';

// The addresses users see: playback through Portal (seed 002 "All stream traffic routes through
// Portal"), and the ingest URLs of MediaMTX's own listeners for encoders.

type UrlEnv = Pick<Env, 'PUBLIC_URL' | 'STREAM_RTMPS_URL' | 'STREAM_RTMP_URL' | 'TRUST_PROXY'>;

export type PublicUrls = { base: string; rtmps: string; rtmp: string };

const first = (value: string | string[] | undefined) =>
  (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim() || undefined;

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * PUBLIC_URL when configured; otherwise the request's own Host (and, behind a trusted proxy,
 * X-Forwarded-Host/-Proto). A Host that is not a plain host name falls back to relative URLs.
 */
export function publicUrlsOf(
  env: UrlEnv,
  headers: Record<string, string | string[] | undefined>,
): PublicUrls {
  let base = env.PUBLIC_URL?.replace(/\/+$/, '');
  if (!base) {
    const trusted = Boolean(env.TRUST_PROXY);
    const host = (trusted && first(headers['x-forwarded-host'])) || first(headers.host);
    const proto = trusted ? first(headers['x-forwarded-proto']) : undefined;
    base = host && HOST.test(host) ? `${proto === 'https' ? 'https' : 'http'}://${host}` : '';
  }
  let hostname = 'localhost';
  try {
    if (base) hostname = new URL(base).hostname;
  } catch {
    // PUBLIC_URL is validated by the operator; a bad one still yields usable relative paths.
  }
  return {
    base,
    rtmps: env.STREAM_RTMPS_URL ?? `rtmps://${hostname}:1936/live`,
    rtmp: env.STREAM_RTMP_URL ?? `rtmp://${hostname}:1935/live`,
  };
}

export const playbackUrlsOf = (urls: PublicUrls, key: string) => ({
  hls: `${urls.base}/api/stream/${key}/hls/index.m3u8`,
  webrtc: `${urls.base}/api/stream/${key}/webrtc/whep`,
});

export const thumbnailUrlOf = (urls: PublicUrls, key: string) =>
  `${urls.base}/api/stream/${key}/thumbnail.jpg`;

export const whipUrlOf = (urls: PublicUrls, publishKey: string) =>
  `${urls.base}/api/stream/${publishKey}/webrtc/whip`;
