// Dynamic thumbnails are cached per live session for THUMBNAIL_CACHE_SECONDS (seed 002: 15 s), and
// concurrent requests for one session share one ffmpeg run. Keyed by the session's random id, so
// a new session never sees the old picture. Per node: each node captures once per window.

type Entry = { jpeg: Buffer; at: number };

const MAX_ENTRIES = 1000;
const cache = new Map<string, Entry>();
const inflight = new Map<string, Promise<Buffer>>();

export async function cachedCapture(
  sessionId: string,
  maxAgeMs: number,
  capture: () => Promise<Buffer>,
): Promise<Buffer> {
  const hit = cache.get(sessionId);
  if (hit && Date.now() - hit.at < maxAgeMs) return hit.jpeg;
  const running = inflight.get(sessionId);
  if (running) return running;
  const job = capture()
    .then((jpeg) => {
      cache.delete(sessionId);
      if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
      cache.set(sessionId, { jpeg, at: Date.now() });
      return jpeg;
    })
    .finally(() => inflight.delete(sessionId));
  inflight.set(sessionId, job);
  return job;
}
