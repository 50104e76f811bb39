import { eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { streamThumbnails } from '../../db/schema';
import { sniffImageType } from '../uploads/image-type';
import { ownStream } from './access';
import { FfmpegError, runFfmpeg } from './ffmpeg';
import { redactKeys } from './keys';
import { internalAuthorization, mediaServerOf, mediaUrl } from './mediamtx';
import { watchableStream } from './playback';
import { cachedCapture } from './thumbnail-cache';
import { LIVE, type StreamActor, type StreamDeps, type StreamRow } from './types';

// Thumbnails (seed 002): the owner's static JPEG/PNG (≤ 2 MB, recognised by its magic bytes and
// re-encoded to a JPEG of at most 1280 px by ffmpeg, which drops metadata such as GPS tags and
// anything that is not a picture), and the dynamic frame ffmpeg takes from the live stream,
// cached 15 s. While offline or encoding: the static thumbnail, else 404.

const WIDTH = "scale='min(1280,iw)':-2";
const CAPTURE_TIMEOUT_MS = 15_000;
const ENCODE_TIMEOUT_MS = 20_000;

export const THUMBNAIL_FIELD = 'thumbnail';

const notAnImage = () => new AppError('BAD_REQUEST', 'thumbnail must be a JPEG or PNG image');

/** PNG or JPEG in, JPEG out; without ffmpeg the original is stored as it is (size-checked). */
async function normalise(deps: Pick<StreamDeps, 'env' | 'log'>, data: Buffer) {
  const type = sniffImageType(data);
  if (type !== 'jpg' && type !== 'png') throw notAnImage();
  try {
    const jpeg = await runFfmpeg({
      ffmpegPath: deps.env.FFMPEG_PATH,
      // The demuxer is chosen from the magic bytes: ffmpeg never probes the upload as anything else.
      args: [
        ...['-f', type === 'png' ? 'png_pipe' : 'jpeg_pipe', '-i', 'pipe:0'],
        ...['-frames:v', '1', '-vf', WIDTH, '-q:v', '3', '-f', 'image2', '-c:v', 'mjpeg', 'pipe:1'],
      ],
      input: data,
      timeoutMs: ENCODE_TIMEOUT_MS,
      maxOutputBytes: deps.env.THUMBNAIL_MAX_BYTES,
    });
    return { contentType: 'image/jpeg', data: jpeg };
  } catch (err) {
    if (err instanceof FfmpegError && err.kind === 'missing') {
      deps.log.warn({}, 'ffmpeg not found: thumbnail stored without re-encoding');
      return { contentType: type === 'png' ? 'image/png' : 'image/jpeg', data };
    }
    if (err instanceof FfmpegError && err.kind === 'timeout')
      throw new AppError('BAD_REQUEST', 'thumbnail could not be processed in time');
    throw new AppError('BAD_REQUEST', 'thumbnail is not a valid JPEG or PNG image');
  }
}

/** POST /api/streams/{id}/thumbnail (owner only). */
export async function uploadThumbnail(deps: StreamDeps, actor: StreamActor, streamId: number, data: Buffer) {
  const stream = await ownStream(deps.db, actor.userId, streamId);
  const image = await normalise(deps, data);
  // The JPEG ffmpeg wrote is checked like the upload was.
  if (image.contentType === 'image/jpeg' && sniffImageType(image.data) !== 'jpg') throw notAnImage();
  await deps.db
    .insert(streamThumbnails)
    .values({ streamId, contentType: image.contentType, data: image.data })
    .onConflictDoUpdate({
      target: streamThumbnails.streamId,
      set: { contentType: image.contentType, data: image.data, updatedAt: new Date() },
    });
  return {
    success: true as const,
    content_type: image.contentType,
    size: image.data.length,
    stream_id: stream.id,
  };
}

/** DELETE /api/streams/{id}/thumbnail (owner only; idempotent). */
export async function deleteThumbnail(deps: StreamDeps, actor: StreamActor, streamId: number) {
  await ownStream(deps.db, actor.userId, streamId);
  await deps.db.delete(streamThumbnails).where(eq(streamThumbnails.streamId, streamId));
  return { success: true as const };
}

/** One JPEG frame of the live stream, from MediaMTX's HLS output, as Portal's own reader. */
function captureFrame(deps: StreamDeps, stream: StreamRow): Promise<Buffer> {
  const server = mediaServerOf(deps.env);
  if (!server || stream.livePath === null) return Promise.reject(new Error('not capturable'));
  const source = mediaUrl(server.hls, deps.secretBox.decrypt(stream.livePath), 'index.m3u8');
  return runFfmpeg({
    ffmpegPath: deps.env.FFMPEG_PATH,
    args: [
      '-headers',
      `Authorization: ${internalAuthorization(deps.secretKey)}\r\n`,
      '-protocol_whitelist',
      'http,https,tcp,tls,crypto',
      '-rw_timeout',
      '10000000',
      '-live_start_index',
      '-1',
      '-i',
      source.toString(),
      '-frames:v',
      '1',
      '-an',
      '-vf',
      WIDTH,
      '-q:v',
      '5',
      '-f',
      'image2',
      '-c:v',
      'mjpeg',
      'pipe:1',
    ],
    timeoutMs: CAPTURE_TIMEOUT_MS,
    maxOutputBytes: 8 * 1024 * 1024,
  });
}

export type Thumbnail = { contentType: string; data: Buffer; maxAgeSeconds: number; isPublic: boolean };

/** GET /api/stream/{key}/thumbnail.jpg: the live frame, else the static thumbnail, else 404. */
export async function thumbnailFor(deps: StreamDeps, key: string, userId: number | null): Promise<Thumbnail> {
  const stream = await watchableStream(deps, key, userId);
  const cacheSeconds = deps.env.THUMBNAIL_CACHE_SECONDS;
  if (stream.isLive === LIVE.LIVE && stream.liveSessionId) {
    try {
      const jpeg = await cachedCapture(stream.liveSessionId, cacheSeconds * 1000, () =>
        captureFrame(deps, stream),
      );
      return {
        contentType: 'image/jpeg',
        data: jpeg,
        maxAgeSeconds: cacheSeconds,
        isPublic: stream.isPublic,
      };
    } catch (err) {
      // ffmpeg's message may name the MediaMTX path, which holds the publish key.
      const reason = redactKeys(err instanceof Error ? err.message : String(err));
      deps.log.warn({ reason, stream_id: stream.id }, 'live thumbnail not captured');
    }
  }
  const [stored] = await deps.db
    .select()
    .from(streamThumbnails)
    .where(eq(streamThumbnails.streamId, stream.id));
  if (!stored) throw new AppError('NOT_FOUND', 'Thumbnail not found');
  return {
    contentType: stored.contentType,
    data: stored.data,
    maxAgeSeconds: cacheSeconds,
    isPublic: stream.isPublic,
  };
}
