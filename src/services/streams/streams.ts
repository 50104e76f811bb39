import { and, count, desc, eq, isNull, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { channels, streamRtmpTokens, streams } from '../../db/schema';
import { inTransaction } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { withinUserCap } from '../users/per-user-cap';
import { enqueueWebhookEvent } from '../webhooks/outbox';
import { ownStream, visibleStream } from './access';
import {
  announceStreamChannelGone,
  createStreamChannel,
  deleteStreamChannel,
  streamChannelName,
  syncStreamChannel,
} from './chat-channel';
import { newPlaybackKey, newPublishKey, publishKeyHash } from './keys';
import { offlineEventData, sessionOf } from './live-session';
import { LIVE, type StreamActor, type StreamDeps } from './types';
import type { PublicUrls } from './urls';
import { clearViewers } from './viewers';
import { loadStreams, viewsOf } from './views';

// Streams of seed 002 "REST API": create (with its chat channel), list, read, change, delete, and
// a new publish key. The publish key is sealed at rest and found by its keyed hash.

export type CreateStreamInput = {
  title: string;
  description?: string | undefined;
  is_public?: boolean | undefined;
  rtmp_enabled?: boolean | undefined;
};

export type UpdateStreamInput = Partial<{ [K in keyof CreateStreamInput]: CreateStreamInput[K] }>;

type Caller = { userId: number | null; urls: PublicUrls };

const audit = (db: Db, actor: StreamActor, action: string, id: number, details?: Record<string, unknown>) =>
  writeAudit(db, {
    actor: { userId: actor.userId, label: actor.username },
    action,
    targetType: 'stream',
    targetId: id,
    ...(details && { details }),
  });

export async function getStreamView(deps: StreamDeps, caller: Caller, id: number) {
  const stream = await visibleStream(deps.db, caller.userId, id);
  const [row] = await loadStreams(deps, eq(streams.id, stream.id), []);
  const [view] = await viewsOf(deps, [row!], caller);
  return view!;
}

/** GET /api/streams: the caller's own streams, newest first (at most STREAMS_PER_USER). */
export async function listMyStreams(deps: StreamDeps, actor: StreamActor, urls: PublicUrls) {
  const rows = await loadStreams(deps, eq(streams.userId, actor.userId), [
    desc(streams.createdAt),
    desc(streams.id),
  ]);
  return { streams: await viewsOf(deps, rows, { userId: actor.userId, urls }) };
}

type Page = { limit: number; offset: number };

async function pagedList(deps: StreamDeps, caller: Caller, where: ReturnType<typeof and>, page: Page) {
  const [total] = await deps.db.select({ n: count() }).from(streams).where(where);
  const rows = await loadStreams(
    deps,
    where,
    [
      sql`(${streams.isLive} = ${LIVE.LIVE}) desc`,
      sql`(${streams.isLive} = ${LIVE.ENCODING}) desc`,
      sql`${streams.startedAt} desc nulls last`,
      desc(streams.id),
    ],
    page,
  );
  return { streams: await viewsOf(deps, rows, caller), total: total?.n ?? 0, ...page };
}

/** GET /api/streams/public: every public stream (live, encoding and offline), live ones first. */
export const listPublicStreams = (deps: StreamDeps, caller: Caller, page: Page) =>
  pagedList(deps, caller, and(eq(streams.isPublic, true)), page);

/** GET /api/streams/live: public streams live now, with viewer counts. */
export const listLiveStreams = (deps: StreamDeps, caller: Caller, page: Page) =>
  pagedList(deps, caller, and(eq(streams.isPublic, true), eq(streams.isLive, LIVE.LIVE)), page);

/** A channel name no other channel holds: `stream-<id>`, suffixed if someone took it already. */
async function freeChannelName(tx: Db, streamId: number) {
  const base = streamChannelName(streamId);
  for (let n = 0; ; n++) {
    const name = n === 0 ? base : `${base}-${n}`;
    const [taken] = await tx.select({ id: channels.id }).from(channels).where(eq(channels.name, name));
    if (!taken) return name;
  }
}

/** POST /api/streams: a new stream with its keys and chat channel (STREAMS_PER_USER each). */
export async function createStream(
  deps: StreamDeps,
  actor: StreamActor,
  input: CreateStreamInput,
  urls: PublicUrls,
) {
  const key = newPublishKey();
  const id = await withinUserCap(deps.db, {
    userId: actor.userId,
    max: deps.env.STREAMS_PER_USER,
    what: 'streams',
    count: async (tx) => {
      const [n] = await tx.select({ n: count() }).from(streams).where(eq(streams.userId, actor.userId));
      return n?.n ?? 0;
    },
    insert: async (tx) => {
      const isPublic = input.is_public ?? true;
      const [row] = await tx
        .insert(streams)
        .values({
          userId: actor.userId,
          title: input.title,
          description: input.description ?? '',
          isPublic,
          rtmpEnabled: input.rtmp_enabled ?? false,
          streamKey: deps.secretBox.encrypt(key),
          streamKeyHash: publishKeyHash(deps.secretKey, key),
          playbackKey: newPlaybackKey(),
        })
        .returning({ id: streams.id });
      const streamId = row!.id;
      const channelId = await createStreamChannel(tx, {
        id: streamId,
        name: await freeChannelName(tx, streamId),
        userId: actor.userId,
        title: input.title,
        isPublic,
      });
      await tx.update(streams).set({ chatChannelId: channelId }).where(eq(streams.id, streamId));
      await audit(tx, actor, 'stream.create', streamId, { title: input.title, is_public: isPublic });
      return streamId;
    },
  });
  return getStreamView(deps, { userId: actor.userId, urls }, id);
}

/** PUT /api/streams/{id}: title, description, visibility, plain RTMP (owner only). */
export async function updateStream(
  deps: StreamDeps,
  actor: StreamActor,
  id: number,
  patch: UpdateStreamInput,
  urls: PublicUrls,
) {
  if (Object.values(patch).every((v) => v === undefined))
    throw new AppError(
      'BAD_REQUEST',
      'At least one of title, description, is_public or rtmp_enabled is required',
    );
  const after = await inTransaction(deps.db, async (tx) => {
    await ownStream(tx, actor.userId, id, { lock: true });
    const [row] = await tx
      .update(streams)
      .set({
        ...(patch.title !== undefined && { title: patch.title }),
        ...(patch.description !== undefined && { description: patch.description }),
        ...(patch.is_public !== undefined && { isPublic: patch.is_public }),
        ...(patch.rtmp_enabled !== undefined && { rtmpEnabled: patch.rtmp_enabled }),
        updatedAt: new Date(),
      })
      .where(eq(streams.id, id))
      .returning();
    await audit(tx, actor, 'stream.update', id, { patch });
    return row!;
  });
  if (after.chatChannelId !== null && (patch.title !== undefined || patch.is_public !== undefined))
    await syncStreamChannel(deps, after.chatChannelId, after);
  return getStreamView(deps, { userId: actor.userId, urls }, id);
}

/** POST /api/streams/{id}/regenerate-key: the old key (and unused RTMP tokens) stop working at once. */
export async function regenerateStreamKey(
  deps: StreamDeps,
  actor: StreamActor,
  id: number,
  urls: PublicUrls,
) {
  const key = newPublishKey();
  await inTransaction(deps.db, async (tx) => {
    await ownStream(tx, actor.userId, id, { lock: true });
    await tx
      .update(streams)
      .set({
        streamKey: deps.secretBox.encrypt(key),
        streamKeyHash: publishKeyHash(deps.secretKey, key),
        updatedAt: new Date(),
      })
      .where(eq(streams.id, id));
    await tx
      .delete(streamRtmpTokens)
      .where(and(eq(streamRtmpTokens.streamId, id), isNull(streamRtmpTokens.usedAt)));
    await audit(tx, actor, 'stream.regenerate_key', id);
  });
  return getStreamView(deps, { userId: actor.userId, urls }, id);
}

/** DELETE /api/streams/{id}: the stream, its chat channel, tokens, bans, follows and thumbnail. */
export async function deleteStream(deps: StreamDeps, actor: StreamActor, id: number) {
  const endedAt = new Date();
  const { row, channel } = await inTransaction(deps.db, async (tx) => {
    const row = await ownStream(tx, actor.userId, id, { lock: true });
    await tx.delete(streams).where(eq(streams.id, id));
    const channel = row.chatChannelId === null ? null : await deleteStreamChannel(tx, row.chatChannelId);
    if (row.isLive === LIVE.LIVE) {
      await enqueueWebhookEvent(
        { db: tx, secretBox: deps.secretBox },
        { event: 'stream.offline', data: offlineEventData(row, actor.username, endedAt) },
      );
    }
    await audit(tx, actor, 'stream.delete', id, { title: row.title });
    return { row, channel: channel && { id: row.chatChannelId!, name: channel.name } };
  });
  if (channel) await announceStreamChannelGone(deps, channel);
  if (row.isLive === LIVE.LIVE && row.livePath) {
    // Relays and recording stop with the stream; there is nothing left to hold at 2.
    const session = sessionOf(deps, row, actor.username);
    await deps.streamLifecycle.emitWentOffline({ ...session, endedAt, hold: async () => {} }, deps.log);
    await clearViewers(deps, id);
  }
  return { success: true as const };
}
