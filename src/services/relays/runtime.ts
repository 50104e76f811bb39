import { and, eq } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import { streamRelays } from '../../db/schema';
import { redact, type Supervisor } from '../processes/supervisor';
import type { LiveSession } from '../streams/lifecycle';
import { ffmpegBaseArgs, mediaInputArgs, readSecrets } from '../vod/ffmpeg-args';
import { checkDestination, setRelayStatus } from './relays';

// Relays of live streams: each enabled relay is one supervised ffmpeg that copies the stream
// (`-c copy`, no re-encoding) from MediaMTX to `<rtmp_url>/<stream_key>` as FLV. They start when
// the stream goes live on this node, follow relay changes (create, update, disable, delete) and
// stop when the stream ends. Status and last error are written to the relay's row.

type Env = { FFMPEG_PATH: string; MEDIA_READ_PROTOCOL: 'rtsp' | 'hls'; RELAY_ALLOW_PRIVATE: boolean };
type Log = { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };

export const relayProcessId = (relayId: number) => `relay:${relayId}`;

/** The destination URL: the ingest URL and the key as one path (Twitch: rtmp://…/app/<key>). */
export const destinationOf = (url: string, key: string | null) =>
  key ? `${url.replace(/\/+$/, '')}/${key}` : url;

export type RelayRuntime = ReturnType<typeof createRelayRuntime>;

export function createRelayRuntime(deps: {
  db: Db;
  secretBox: SecretBox;
  supervisor: Supervisor;
  env: Env;
  secretKey: Buffer;
  log: Log;
}) {
  const { db, secretBox, supervisor } = deps;
  /** Live streams whose relays run on this node, and what runs (relay id → config it started with). */
  const live = new Map<number, { session: LiveSession; running: Map<number, string> }>();
  const pending = new Map<number, Promise<void>>();

  async function stopRelay(streamId: number, relayId: number) {
    await supervisor.stop(relayProcessId(relayId));
    live.get(streamId)?.running.delete(relayId);
    await setRelayStatus(db, relayId, { state: 'idle' }).catch(() => {});
  }

  function startRelay(session: LiveSession, relayId: number, url: string, key: string | null) {
    const destination = destinationOf(url, key);
    const secrets = [...(key ? [key] : []), destination, ...readSecrets(session, deps.secretKey)];
    supervisor.start({
      id: relayProcessId(relayId),
      command: deps.env.FFMPEG_PATH,
      meta: { kind: 'relay', streamId: session.streamId, sessionId: session.sessionId, relayId },
      secrets,
      async args() {
        // Checked again at every start: the name may point elsewhere by now.
        await checkDestination(url, deps.env.RELAY_ALLOW_PRIVATE, true);
        return [
          ...ffmpegBaseArgs(),
          ...mediaInputArgs(session, deps.env.MEDIA_READ_PROTOCOL),
          '-map',
          '0',
          '-c',
          'copy',
          '-f',
          'flv',
          destination,
        ];
      },
      isProgress: (line) => line.startsWith('progress='),
      onStatus: (status) => {
        const state = status.state === 'stopped' ? 'idle' : status.state;
        const lastError = status.lastError === null ? null : redact(status.lastError, secrets);
        void setRelayStatus(db, relayId, { state, lastError }).catch((err) =>
          deps.log.warn({ err, relay_id: relayId }, 'could not record relay status'),
        );
      },
    });
  }

  /** Brings the running relays of a live stream in line with its enabled relays. */
  async function apply(streamId: number) {
    const entry = live.get(streamId);
    if (!entry) return;
    const rows = await db
      .select()
      .from(streamRelays)
      .where(and(eq(streamRelays.streamId, streamId), eq(streamRelays.enabled, true)));
    const wanted = new Map(
      rows.map((r) => {
        const url = secretBox.decrypt(r.rtmpUrl);
        const key = r.streamKey === null ? null : secretBox.decrypt(r.streamKey);
        return [r.id, { url, key, config: `${url}\n${key ?? ''}` }] as const;
      }),
    );
    for (const [relayId, config] of entry.running) {
      const want = wanted.get(relayId);
      if (!want || want.config !== config) await stopRelay(streamId, relayId);
    }
    if (!live.has(streamId)) return;
    for (const [relayId, want] of wanted) {
      if (entry.running.has(relayId)) continue;
      entry.running.set(relayId, want.config);
      startRelay(entry.session, relayId, want.url, want.key);
    }
  }

  /** One apply at a time per stream; a change during a run is applied after it. */
  function reconcile(streamId: number): Promise<void> {
    const previous = pending.get(streamId) ?? Promise.resolve();
    const next = previous
      .then(() => apply(streamId))
      .catch((err) => deps.log.warn({ err, stream_id: streamId }, 'relay reconcile failed'));
    pending.set(streamId, next);
    void next.then(() => {
      if (pending.get(streamId) === next) pending.delete(streamId);
    });
    return next;
  }

  async function streamOffline(streamId: number) {
    const entry = live.get(streamId);
    if (!entry) return;
    live.delete(streamId);
    await pending.get(streamId);
    await Promise.all([...entry.running.keys()].map((id) => stopRelay(streamId, id)));
  }

  return {
    /** The stream went live on this node (or is resumed after a restart): start its relays. */
    streamLive(session: LiveSession) {
      if (!live.has(session.streamId)) live.set(session.streamId, { session, running: new Map() });
      return reconcile(session.streamId);
    },

    /** Relays of a stream changed; applied at once when it is live here. */
    changed(streamId: number) {
      if (live.has(streamId)) void reconcile(streamId);
    },

    /** The stream ended (or is not live here any more): stop every relay of it. */
    streamOffline,

    sessionOf: (streamId: number) => live.get(streamId)?.session,
    liveStreams: () => [...live.keys()],
    reconcile,

    async stopAll() {
      await Promise.all([...live.keys()].map(streamOffline));
    },
  };
}
