import { eq, type SQL } from 'drizzle-orm';
import { streams, streamThumbnails, users } from '../../db/schema';
import type { StreamDeps, StreamRow } from './types';
import { type PublicUrls, playbackUrlsOf, thumbnailUrlOf, whipUrlOf } from './urls';
import { countViewers } from './viewers';

// The one shape of a stream (seed 002 "REST API"): everyone sees the public fields and the
// playback URLs built on the playback key; only the owner also gets the publish key and the
// ingest URLs that contain it.

export type StreamWithOwner = { stream: StreamRow; username: string; hasThumbnail: boolean };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function streamView(
  deps: Pick<StreamDeps, 'secretBox' | 'env'>,
  s: StreamWithOwner,
  opts: { urls: PublicUrls; viewerCount: number; userId: number | null },
) {
  const { stream } = s;
  const isOwner = opts.userId === stream.userId;
  const ownerFields = isOwner
    ? (() => {
        const key = deps.secretBox.decrypt(stream.streamKey);
        return {
          stream_key: key,
          publish_urls: {
            rtmps: opts.urls.rtmps,
            rtmp: stream.rtmpEnabled && deps.env.RTMP_PLAIN_ENABLED ? opts.urls.rtmp : null,
            whip: whipUrlOf(opts.urls, key),
          },
        };
      })()
    : {};
  return {
    id: stream.id,
    user_id: stream.userId,
    username: s.username,
    title: stream.title,
    description: stream.description,
    is_live: stream.isLive as 0 | 1 | 2,
    is_public: stream.isPublic,
    rtmp_enabled: stream.rtmpEnabled,
    viewer_count: stream.isLive === 1 ? opts.viewerCount : 0,
    chat_channel_id: stream.chatChannelId,
    playback_key: stream.playbackKey,
    playback_urls: playbackUrlsOf(opts.urls, stream.playbackKey),
    thumbnail_url: thumbnailUrlOf(opts.urls, stream.playbackKey),
    has_thumbnail: s.hasThumbnail,
    started_at: iso(stream.startedAt),
    ended_at: iso(stream.endedAt),
    created_at: stream.createdAt.toISOString(),
    updated_at: stream.updatedAt.toISOString(),
    ...ownerFields,
  };
}

export type StreamView = ReturnType<typeof streamView>;

/** Streams with their owner's name and whether a static thumbnail exists, in the given order. */
export async function loadStreams(
  deps: Pick<StreamDeps, 'db'>,
  where: SQL | undefined,
  order: SQL[],
  page?: { limit: number; offset: number },
): Promise<StreamWithOwner[]> {
  const query = deps.db
    .select({ stream: streams, username: users.username, thumb: streamThumbnails.streamId })
    .from(streams)
    .innerJoin(users, eq(users.id, streams.userId))
    .leftJoin(streamThumbnails, eq(streamThumbnails.streamId, streams.id))
    .where(where)
    .orderBy(...order);
  const rows = page ? await query.limit(page.limit).offset(page.offset) : await query;
  return rows.map((r) => ({ stream: r.stream, username: r.username, hasThumbnail: r.thumb !== null }));
}

/** Views of loaded streams with live viewer counts. */
export async function viewsOf(
  deps: Pick<StreamDeps, 'secretBox' | 'env' | 'bus' | 'log'>,
  rows: StreamWithOwner[],
  opts: { urls: PublicUrls; userId: number | null },
) {
  const counts = await countViewers(
    deps,
    rows.map((r) => ({ id: r.stream.id, isLive: r.stream.isLive })),
  );
  return rows.map((r) => streamView(deps, r, { ...opts, viewerCount: counts.get(r.stream.id) ?? 0 }));
}
