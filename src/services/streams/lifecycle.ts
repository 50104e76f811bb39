// The stream lifecycle other features plug into without editing the streams code: relays and VOD
// recording start on `wentLive` and stop on `wentOffline`. When a stream ends it is `is_live` 2
// (encoding) while offline listeners run; a listener that still has work for the session (VOD
// chunks to offload) calls `hold(holder)` before its promise settles, and the stream stays at 2
// until `releaseStreamOffline` (holds.ts) releases the last hold. With no hold it goes to 0 at once.
//
// Listeners run on the node that received MediaMTX's hook, one after the other; an error is logged
// and does not stop the others or the hook. Keep them short: start long work in the background.

export type LiveSession = {
  streamId: number;
  userId: number;
  username: string;
  title: string;
  isPublic: boolean;
  /** Random id of this live session (`streams.live_session_id`). */
  sessionId: string;
  /** MediaMTX path (`live/<key or token>`): a credential, never log it. */
  mediaPath: string;
  /** Where Portal reads the stream from MediaMTX, with Portal's own credentials inside. */
  readUrl: { rtsp: string; hls: string };
  startedAt: Date;
};

export type WentLive = LiveSession;

export type WentOffline = LiveSession & {
  endedAt: Date;
  /** Keeps the stream at `is_live` 2 until `releaseStreamOffline({streamId, holder})`. */
  hold(holder: string): Promise<void>;
};

type Listener<E> = (event: E) => void | Promise<void>;
type Log = { warn(obj: object, msg?: string): void };

export type StreamLifecycle = {
  /** Returns the function that removes the listener. */
  onWentLive(listener: Listener<WentLive>): () => void;
  onWentOffline(listener: Listener<WentOffline>): () => void;
  /** Called by the media-server hooks (live-state.ts) only. */
  emitWentLive(event: WentLive, log: Log): Promise<void>;
  emitWentOffline(event: WentOffline, log: Log): Promise<void>;
};

export function createStreamLifecycle(): StreamLifecycle {
  const live = new Set<Listener<WentLive>>();
  const offline = new Set<Listener<WentOffline>>();
  const run = async <E extends LiveSession>(
    listeners: Set<Listener<E>>,
    event: E,
    log: Log,
    what: string,
  ) => {
    for (const listener of [...listeners]) {
      try {
        await listener(event);
      } catch (err) {
        log.warn(
          { err, stream_id: event.streamId, session_id: event.sessionId },
          `stream ${what} listener failed`,
        );
      }
    }
  };
  return {
    onWentLive(listener) {
      live.add(listener);
      return () => void live.delete(listener);
    },
    onWentOffline(listener) {
      offline.add(listener);
      return () => void offline.delete(listener);
    },
    emitWentLive: (event, log) => run(live, event, log, 'went-live'),
    emitWentOffline: (event, log) => run(offline, event, log, 'went-offline'),
  };
}
