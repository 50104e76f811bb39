import type { Bus } from '../../core/bus/types';
import { sha256Hex } from '../../core/crypto';

// viewer_count (seed 002 "viewer counts"): who watches right now, cluster-wide in the Bus's
// presence sets. An HLS player re-fetches its playlist every few seconds, so a viewer is counted
// while they fetched one within the last 30 s. A WebRTC (WHEP) viewer is counted from the moment
// MediaMTX reports its session reading (runOnRead) until it stops (runOnUnread).

export const HLS_VIEWER_WINDOW_MS = 30_000;
/** A WebRTC session is refreshed by MediaMTX's hooks only at its start and end; this bounds a lost end. */
export const WEBRTC_VIEWER_TTL_MS = 12 * 3_600_000;

const setOf = (streamId: number) => `stream-viewers:${streamId}`;

/** The same person on several players or tabs counts once; anonymous viewers by address + agent. */
export const viewerIdOf = (who: {
  userId?: number | undefined;
  ip: string;
  userAgent?: string | undefined;
}) =>
  who.userId !== undefined
    ? `u:${who.userId}`
    : `a:${sha256Hex(`${who.ip}\0${who.userAgent ?? ''}`).slice(0, 24)}`;

type Log = { warn(obj: object, msg?: string): void };

export async function markViewer(
  deps: { bus: Bus; log: Log },
  streamId: number,
  viewer: string,
  ttlMs: number,
) {
  try {
    await deps.bus.presenceAdd(setOf(streamId), viewer, ttlMs);
  } catch (err) {
    deps.log.warn({ err, stream_id: streamId }, 'viewer not counted');
  }
}

export async function dropViewer(deps: { bus: Bus; log: Log }, streamId: number, viewer: string) {
  try {
    await deps.bus.presenceRemove(setOf(streamId), viewer);
  } catch (err) {
    deps.log.warn({ err, stream_id: streamId }, 'viewer not removed');
  }
}

/** Everyone leaves when the stream ends. */
export async function clearViewers(deps: { bus: Bus; log: Log }, streamId: number) {
  try {
    for (const member of await deps.bus.presenceMembers(setOf(streamId)))
      await deps.bus.presenceRemove(setOf(streamId), member);
  } catch (err) {
    deps.log.warn({ err, stream_id: streamId }, 'viewers not cleared');
  }
}

/** Viewer counts of the live streams among `ids` (0 for the others, and when the Bus is down). */
export async function countViewers(
  deps: { bus: Bus; log: Log },
  live: Array<{ id: number; isLive: number }>,
): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  await Promise.all(
    live.map(async (s) => {
      if (s.isLive !== 1) return counts.set(s.id, 0);
      try {
        counts.set(s.id, await deps.bus.presenceCount(setOf(s.id)));
      } catch (err) {
        deps.log.warn({ err, stream_id: s.id }, 'viewer count unavailable');
        counts.set(s.id, 0);
      }
    }),
  );
  return counts;
}
