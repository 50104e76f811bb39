import { and, count, desc, eq, sql } from 'drizzle-orm';
import { streams } from '../../db/schema';
import { LIVE, type StreamActor, type StreamDeps } from './types';
import type { PublicUrls } from './urls';
import { loadStreams, viewsOf } from './views';

// The stream lists of seed 002 "REST API": one's own, the public ones (live, encoding and
// offline: the community page), and the public ones live now.

type Caller = { userId: number | null; urls: PublicUrls };

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
