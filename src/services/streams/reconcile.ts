import { and, eq, lt } from 'drizzle-orm';
import { streams } from '../../db/schema';
import { markStreamNotReady } from './live-state';
import { internalAuthorization, mediaServerOf } from './mediamtx';
import { LIVE, type StreamDeps } from './types';

// MediaMTX calls not-ready when a publisher leaves, but not when MediaMTX itself dies or restarts:
// its paths are simply gone. Every STREAM_RECONCILE_SECONDS each node asks MediaMTX's control API
// which paths are ready and ends the live streams whose path is not (as a not-ready hook would,
// so holds, webhooks and listeners behave the same; the end is compare-and-set, so two nodes
// ending one stream end it once). Only streams that went live before the list was asked for (with
// a margin for clocks) are judged by it. An unreachable API changes nothing.

/** Margin for clocks of different nodes: `ready` set started_at after MediaMTX listed the path. */
const RECENT_MS = 5_000;
const PAGE_SIZE = 1000;

type PathItem = { name?: string; ready?: boolean; sourceReady?: boolean };
type PathList = { pageCount?: number; items?: PathItem[] };

/** MEDIAMTX_API_URL, or MediaMTX's default API port on MEDIAMTX_URL's host. */
export function mediaApiUrl(env: StreamDeps['env']): URL | null {
  const server = mediaServerOf(env);
  if (!server) return null;
  return env.MEDIAMTX_API_URL
    ? new URL(env.MEDIAMTX_API_URL)
    : new URL(`http://${server.hls.hostname}:9997/`);
}

/** The names of the paths MediaMTX reports ready. */
async function readyPaths(deps: Pick<StreamDeps, 'env' | 'secretKey'>, api: URL): Promise<Set<string>> {
  const ready = new Set<string>();
  for (let page = 0, pages = 1; page < pages; page++) {
    const url = new URL(`${api.pathname.replace(/\/+$/, '')}/v3/paths/list`, api);
    url.search = `itemsPerPage=${PAGE_SIZE}&page=${page}`;
    const res = await fetch(url, {
      headers: { authorization: internalAuthorization(deps.secretKey) },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`MediaMTX API answered ${res.status}`);
    const body = (await res.json()) as PathList;
    for (const item of body.items ?? [])
      if (item.name && (item.ready ?? item.sourceReady)) ready.add(item.name);
    pages = Math.min(body.pageCount ?? 1, 1000);
  }
  return ready;
}

/** One pass; returns how many streams it ended. */
export async function reconcileLiveStreams(deps: StreamDeps): Promise<number> {
  const api = mediaApiUrl(deps.env);
  if (!api) return 0;
  const asked = Date.now();
  const ready = await readyPaths(deps, api);
  const live = await deps.db
    .select({ id: streams.id, livePath: streams.livePath })
    .from(streams)
    .where(and(eq(streams.isLive, LIVE.LIVE), lt(streams.startedAt, new Date(asked - RECENT_MS))));
  let ended = 0;
  for (const row of live) {
    if (row.livePath === null) continue;
    const path = deps.secretBox.decrypt(row.livePath);
    if (ready.has(path)) continue;
    deps.log.info({ stream_id: row.id }, 'stream not ready at MediaMTX any more: ending it');
    await markStreamNotReady(deps, path);
    ended++;
  }
  return ended;
}

export function startLiveReconciler(deps: StreamDeps, intervalSeconds: number) {
  if (intervalSeconds <= 0 || !mediaServerOf(deps.env)) return { stop: async () => {} };
  let failing = false;
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = reconcileLiveStreams(deps).then(
      () => {
        if (failing) deps.log.info({}, 'MediaMTX API reachable again');
        failing = false;
      },
      (err) => {
        // Said once per outage, not at every tick.
        if (!failing)
          deps.log.warn({ err: err instanceof Error ? err.message : err }, 'MediaMTX API not reachable');
        failing = true;
      },
    );
  }, intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
