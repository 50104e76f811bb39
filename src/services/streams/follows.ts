import { and, desc, eq, inArray } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { streamFollows, streams } from '../../db/schema';
import { visibleStream } from './access';
import type { StreamActor, StreamDeps } from './types';
import type { PublicUrls } from './urls';
import { loadStreams, viewsOf } from './views';

// Following a stream (API.md §4: `stream_live` goes to "streams you follow or own"; the seeds do
// not say how one follows, see docs/decisions.md): a user follows streams they may watch; a
// private stream's followers are not notified while it is private.

/** POST /api/streams/{id}/follow (idempotent). */
export async function followStream(deps: StreamDeps, actor: StreamActor, streamId: number) {
  const stream = await visibleStream(deps.db, actor.userId, streamId);
  if (stream.userId === actor.userId)
    throw new AppError('BAD_REQUEST', 'You are notified about your own streams already');
  await deps.db.insert(streamFollows).values({ streamId, userId: actor.userId }).onConflictDoNothing();
  return { success: true as const, following: true };
}

/** DELETE /api/streams/{id}/follow (idempotent; a stream one cannot see is still a 404). */
export async function unfollowStream(deps: StreamDeps, actor: StreamActor, streamId: number) {
  const removed = await deps.db
    .delete(streamFollows)
    .where(and(eq(streamFollows.streamId, streamId), eq(streamFollows.userId, actor.userId)))
    .returning({ id: streamFollows.streamId });
  if (removed.length === 0) await visibleStream(deps.db, actor.userId, streamId);
  return { success: true as const, following: false };
}

/** GET /api/streams/following: streams the caller follows and may still watch, newest follow first. */
export async function listFollowedStreams(
  deps: StreamDeps,
  actor: StreamActor,
  urls: PublicUrls,
  page: { limit: number; offset: number },
) {
  const follows = await deps.db
    .select({ streamId: streamFollows.streamId })
    .from(streamFollows)
    .innerJoin(streams, eq(streams.id, streamFollows.streamId))
    .where(and(eq(streamFollows.userId, actor.userId), eq(streams.isPublic, true)))
    .orderBy(desc(streamFollows.createdAt), desc(streamFollows.streamId))
    .limit(page.limit)
    .offset(page.offset);
  const ids = follows.map((f) => f.streamId);
  const rows = ids.length ? await loadStreams(deps, inArray(streams.id, ids), []) : [];
  const byId = new Map(rows.map((r) => [r.stream.id, r]));
  const ordered = ids.map((id) => byId.get(id)).filter((r) => r !== undefined);
  return { streams: await viewsOf(deps, ordered, { userId: actor.userId, urls }), ...page };
}
