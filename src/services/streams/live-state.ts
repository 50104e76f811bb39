import { randomUUID } from 'node:crypto';
import { and, eq, notExists, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { streamBans, streamFollows, streams, users } from '../../db/schema';
import { recordActivity } from '../activity/activity';
import { inTransaction } from '../admin/hierarchy';
import { prepareNotification } from '../notifications/notify';
import { enqueueWebhookEvent } from '../webhooks/outbox';
import { streamById } from './access';
import { finishIfUnheld } from './holds';
import { keyKind, keyOfMediaPath, publishKeyHash } from './keys';
import { liveEventData, offlineEventData, sessionOf } from './live-session';
import { releaseRtmpToken, tokenByValue } from './rtmp-tokens';
import { LIVE, type StreamDeps, type StreamRow } from './types';
import { clearViewers } from './viewers';

// is_live 0 → 1 → 2 → 0, driven by MediaMTX's runOnReady / runOnNotReady hooks. Going live
// notifies the owner and followers (`stream_live`), queues `stream.live` for outgoing webhooks
// and tells lifecycle listeners (relays, recording). Ending sets 2, queues `stream.offline`, tells
// the listeners, who may hold the stream at 2 (holds.ts); with no hold it goes to 0 at once.

export type MediaPathStream = { stream: StreamRow; tokenId: number | null };

/** The stream a MediaMTX path belongs to: `live/live_…` by the key's hash, `live/rtmp_…` by token. */
export async function streamOfMediaPath(
  deps: Pick<StreamDeps, 'db' | 'secretKey'>,
  path: string,
): Promise<MediaPathStream | undefined> {
  const key = keyOfMediaPath(path);
  const kind = key && keyKind(key);
  if (kind === 'publish') {
    const [stream] = await deps.db
      .select()
      .from(streams)
      .where(eq(streams.streamKeyHash, publishKeyHash(deps.secretKey, key!)));
    return stream && { stream, tokenId: null };
  }
  if (kind === 'rtmp_token') {
    const token = await tokenByValue(deps.db, deps.secretKey, key!);
    const stream = token && (await streamById(deps.db, token.streamId));
    return stream && { stream, tokenId: token!.id };
  }
  return undefined;
}

const ownerName = async (db: Db, userId: number) =>
  (await db.select({ username: users.username }).from(users).where(eq(users.id, userId)))[0]?.username ?? '';

/** Owner, and for a public stream its followers not banned from it (API.md §4). */
async function liveRecipients(db: Db, stream: StreamRow): Promise<number[]> {
  if (!stream.isPublic) return [stream.userId];
  const followers = await db
    .select({ userId: streamFollows.userId })
    .from(streamFollows)
    .where(
      and(
        eq(streamFollows.streamId, stream.id),
        notExists(
          db
            .select({ one: sql`1` })
            .from(streamBans)
            .where(and(eq(streamBans.streamId, stream.id), eq(streamBans.userId, streamFollows.userId))),
        ),
      ),
    );
  return [...new Set([stream.userId, ...followers.map((f) => f.userId)])];
}

const pathOf = (deps: Pick<StreamDeps, 'secretBox'>, stream: StreamRow) =>
  stream.livePath === null ? null : deps.secretBox.decrypt(stream.livePath);

/** POST /api/mediamtx/ready: the path has a publisher; its stream goes live (idempotent). */
export async function markStreamReady(deps: StreamDeps, path: string) {
  const found = await streamOfMediaPath(deps, path);
  if (!found) throw new AppError('NOT_FOUND', 'Stream not found');
  const current = found.stream;
  if (current.isLive === LIVE.LIVE) {
    if (pathOf(deps, current) === path) return { stream_id: current.id, is_live: current.isLive };
    // Live on another path (the key, then a token): that session is over.
    await markStreamNotReady(deps, pathOf(deps, current)!);
  }
  const username = await ownerName(deps.db, current.userId);
  const now = new Date();
  const { row, notification } = await inTransaction(deps.db, async (tx) => {
    const [row] = await tx
      .update(streams)
      .set({
        isLive: LIVE.LIVE,
        livePath: deps.secretBox.encrypt(path),
        liveSessionId: randomUUID(),
        startedAt: now,
        endedAt: null,
      })
      .where(eq(streams.id, current.id))
      .returning();
    await enqueueWebhookEvent(
      { db: tx, secretBox: deps.secretBox },
      { event: 'stream.live', data: liveEventData(row!, username) },
    );
    await recordActivity(tx, {
      userId: row!.userId,
      action: 'stream_started',
      details: `Started streaming "${row!.title}"`,
    });
    const notification = await prepareNotification(tx, {
      userIds: await liveRecipients(tx, row!),
      type: 'stream_live',
      title: 'Stream Live',
      message: `${username} started streaming`,
      data: {
        stream_id: row!.id,
        title: row!.title,
        username,
        playback_key: row!.playbackKey,
        chat_channel_id: row!.chatChannelId,
      },
    });
    return { row: row!, notification };
  });
  deps.log.info({ stream_id: row.id, session_id: row.liveSessionId }, 'stream live');
  await notification.publish(deps);
  await deps.streamLifecycle.emitWentLive(sessionOf(deps, row, username), deps.log);
  return { stream_id: row.id, is_live: row.isLive };
}

/**
 * POST /api/mediamtx/not-ready: the publisher left. A path that is not the stream's current one
 * (a stale or repeated hook) changes nothing.
 */
export async function markStreamNotReady(deps: StreamDeps, path: string) {
  const found = await streamOfMediaPath(deps, path);
  if (!found) throw new AppError('NOT_FOUND', 'Stream not found');
  const before = found.stream;
  if (before.isLive !== LIVE.LIVE || pathOf(deps, before) !== path)
    return { stream_id: before.id, is_live: before.isLive };
  return endLiveSession(deps, before, found.tokenId);
}

/**
 * Ends the current live session of `before` (is_live 1 → 2, then 0 unless held). Compare-and-set
 * on the session id: a session that ended meanwhile is left as it is.
 */
export async function endLiveSession(deps: StreamDeps, before: StreamRow, tokenId: number | null) {
  const username = await ownerName(deps.db, before.userId);
  const session = sessionOf(deps, before, username);
  const endedAt = new Date();
  const ended = await inTransaction(deps.db, async (tx) => {
    const [row] = await tx
      .update(streams)
      .set({ isLive: LIVE.ENCODING, livePath: null, endedAt })
      .where(
        and(
          eq(streams.id, before.id),
          eq(streams.liveSessionId, session.sessionId),
          eq(streams.isLive, LIVE.LIVE),
        ),
      )
      .returning();
    if (!row) return null;
    if (tokenId !== null) await releaseRtmpToken(tx, tokenId, endedAt);
    await enqueueWebhookEvent(
      { db: tx, secretBox: deps.secretBox },
      { event: 'stream.offline', data: offlineEventData(row, username, endedAt) },
    );
    await recordActivity(tx, {
      userId: row.userId,
      action: 'stream_stopped',
      details: `Stopped streaming "${row.title}"`,
    });
    return row;
  });
  if (!ended) {
    const now = await streamById(deps.db, before.id);
    return { stream_id: before.id, is_live: now?.isLive ?? LIVE.OFFLINE };
  }
  await clearViewers(deps, before.id);
  await deps.streamLifecycle.emitWentOffline({ ...session, endedAt }, deps.log);
  const isLive = (await finishIfUnheld(deps.db, before.id)) ?? LIVE.OFFLINE;
  deps.log.info({ stream_id: before.id, session_id: session.sessionId, is_live: isLive }, 'stream ended');
  return { stream_id: before.id, is_live: isLive };
}
