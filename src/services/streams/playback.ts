import { eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { streams } from '../../db/schema';
import { canWatch, streamNotFound } from './access';
import { keyKind, mediaPathOf, publishKeyHash } from './keys';
import { mediaUrl, requireMediaServer } from './mediamtx';
import { LIVE, type StreamDeps, type StreamRow } from './types';

// What the playback proxy may open on MediaMTX for a key in a URL (seed 002 "Watching Streams",
// "Publishing via WHIP"). Playback URLs carry the playback key; the publish key is accepted too
// (seed 002: thumbnails "accept live_xxx or pub_xxx"), since whoever holds it is the publisher.
// Viewers of a public stream need nothing but the URL (any HLS player); a private stream plays
// for its owner only (cookie, Bearer or ?token=).

export type KeyedStream = { stream: StreamRow; via: 'publish' | 'playback' };

export async function streamOfKey(deps: Pick<StreamDeps, 'db' | 'secretKey'>, key: string) {
  const kind = keyKind(key);
  const where =
    kind === 'publish'
      ? eq(streams.streamKeyHash, publishKeyHash(deps.secretKey, key))
      : kind === 'playback'
        ? eq(streams.playbackKey, key)
        : undefined;
  if (!where) return undefined;
  const [stream] = await deps.db.select().from(streams).where(where);
  return stream && ({ stream, via: kind === 'publish' ? 'publish' : 'playback' } satisfies KeyedStream);
}

/** The stream behind `key` if the caller may watch it, else 404 (private streams are not probed). */
export async function watchableStream(
  deps: Pick<StreamDeps, 'db' | 'secretKey'>,
  key: string,
  userId: number | null,
) {
  const found = await streamOfKey(deps, key);
  if (!found) throw streamNotFound();
  if (found.via === 'playback' && !canWatch(found.stream, userId)) throw streamNotFound();
  return found.stream;
}

const offline = () => new AppError('NOT_FOUND', 'Stream is offline');

/** The MediaMTX path a live stream plays from (playback only while `is_live` is 1). */
export function liveMediaPath(deps: Pick<StreamDeps, 'secretBox'>, stream: StreamRow) {
  if (stream.isLive !== LIVE.LIVE || stream.livePath === null) throw offline();
  return deps.secretBox.decrypt(stream.livePath);
}

/** MediaMTX's HLS muxer names: index.m3u8, video1_stream.m3u8, <prefix>_video1_seg7.mp4, …_part3.mp4. */
const HLS_FILE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\.(m3u8|mp4|m4s|ts|aac|vtt)$/;

export function hlsFileOf(file: string) {
  if (!HLS_FILE.test(file) || file.includes('..')) throw new AppError('NOT_FOUND', 'Not found');
  return file;
}

/** Upstream URL of an HLS file of a live stream the caller may watch. */
export async function hlsUpstream(deps: StreamDeps, key: string, file: string, userId: number | null) {
  const name = hlsFileOf(file);
  const server = requireMediaServer(deps.env);
  const stream = await watchableStream(deps, key, userId);
  return { stream, url: mediaUrl(server.hls, liveMediaPath(deps, stream), name) };
}

/** WHEP (WebRTC playback): the offer, and the session resource MediaMTX hands back. */
export async function whepUpstream(deps: StreamDeps, key: string, userId: number | null, session?: string) {
  const server = requireMediaServer(deps.env);
  const stream = await watchableStream(deps, key, userId);
  return { stream, url: mediaUrl(server.webrtc, liveMediaPath(deps, stream), sessionPath('whep', session)) };
}

/**
 * WHIP (WebRTC publishing through Portal): the publish key in the URL (OBS: "Bearer Token: leave
 * empty - key is in URL"), or the playback key with the owner signed in. Publishes to the path of
 * the publish key, so the ready hook maps it back like an RTMPS publish.
 */
export async function whipUpstream(deps: StreamDeps, key: string, userId: number | null, session?: string) {
  const server = requireMediaServer(deps.env);
  const found = await streamOfKey(deps, key);
  if (!found || (found.via === 'playback' && found.stream.userId !== userId)) throw streamNotFound();
  const path = mediaPathOf(deps.secretBox.decrypt(found.stream.streamKey));
  return { stream: found.stream, url: mediaUrl(server.webrtc, path, sessionPath('whip', session)) };
}

const SESSION = /^[A-Za-z0-9-]{1,64}$/;

function sessionPath(kind: 'whep' | 'whip', session: string | undefined) {
  if (session === undefined) return kind;
  if (!SESSION.test(session)) throw new AppError('NOT_FOUND', 'Not found');
  return `${kind}/${session}`;
}
