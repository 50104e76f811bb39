import { randomUUID } from 'node:crypto';
import type { Bus } from '../../core/bus/types';
import type { Db } from '../../db/client';
import { holdStreamOffline } from './holds';

// The stream lifecycle other features plug into without editing the streams code: relays and VOD
// recording start on `wentLive` and stop on `wentOffline`. When a stream ends it is `is_live` 2
// (encoding) while offline listeners run; a listener that still has work for the session (VOD
// chunks to offload) calls `hold(holder)` before its promise settles, and the stream stays at 2
// until `releaseStreamOffline` (holds.ts) releases the last hold. With no hold it goes to 0 at once.
//
// A session belongs to the node that received MediaMTX's `ready` hook: its went-live listeners run
// there (and start their processes there). `not-ready` may reach another node of a cluster; that
// node asks the owner over the Bus to run the went-offline listeners, and runs them itself only if
// no node owns the session any more (the owner restarted or died). Nothing secret crosses the Bus:
// the request names the session, the owner kept the event. Listeners run in order; an error is
// logged and does not stop the others or the hook. Keep them short: start long work in the background.

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
  /** This node's id in the cluster (owners of sessions are nodes). */
  readonly nodeId: string;
  /** Returns the function that removes the listener. */
  onWentLive(listener: Listener<WentLive>): () => void;
  onWentOffline(listener: Listener<WentOffline>): () => void;
  /** Called by the media-server hooks (live-state.ts) only: this node now owns the session. */
  emitWentLive(event: WentLive, log: Log): Promise<void>;
  /** Called by the media-server hooks only: runs the offline listeners on the session's owner. */
  emitWentOffline(event: LiveSession & { endedAt: Date }, log: Log): Promise<void>;
  /** Serves other nodes' went-offline requests for the sessions this node owns. */
  start(deps: { bus: Bus; db: Db; log: Log }): Promise<void>;
  stop(): Promise<void>;
};

const TOPIC = 'streams.lifecycle.offline';
/** How long a node waits for a session's owner before it runs the offline listeners itself. */
const OWNER_TIMEOUT_MS = 5_000;

type OfflineRequest = { session_id: string; ended_at: string; reply_to: string; from: string };

export function createStreamLifecycle(): StreamLifecycle {
  const nodeId = randomUUID();
  const live = new Set<Listener<WentLive>>();
  const offline = new Set<Listener<WentOffline>>();
  /** Sessions whose went-live ran here, until their went-offline ran here. */
  const owned = new Map<string, WentLive>();
  let deps: { bus: Bus; db: Db; log: Log } | null = null;
  let unsubscribe: (() => Promise<void>) | null = null;

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

  const runOffline = async (session: LiveSession, endedAt: Date, log: Log) => {
    owned.delete(session.sessionId);
    const db = deps?.db;
    const hold = async (holder: string) => {
      if (!db) throw new Error('stream lifecycle not started');
      await holdStreamOffline({ db }, { streamId: session.streamId, holder, sessionId: session.sessionId });
    };
    await run(offline, { ...session, endedAt, hold }, log, 'went-offline');
  };

  /** Asks the owner of `sessionId` to run the listeners; false when no node answered in time. */
  const askOwner = async (bus: Bus, sessionId: string, endedAt: Date) => {
    const replyTo = `reply.${randomUUID()}`;
    let answered!: () => void;
    const reply = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const off = await bus.subscribe(replyTo, () => answered());
    let timer: NodeJS.Timeout | undefined;
    try {
      const request: OfflineRequest = {
        session_id: sessionId,
        ended_at: endedAt.toISOString(),
        reply_to: replyTo,
        from: nodeId,
      };
      await bus.publish(TOPIC, request);
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), OWNER_TIMEOUT_MS);
      });
      return await Promise.race([reply.then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
      await off().catch(() => {});
    }
  };

  return {
    nodeId,
    onWentLive(listener) {
      live.add(listener);
      return () => void live.delete(listener);
    },
    onWentOffline(listener) {
      offline.add(listener);
      return () => void offline.delete(listener);
    },
    async emitWentLive(event, log) {
      owned.set(event.sessionId, event);
      await run(live, event, log, 'went-live');
    },
    async emitWentOffline(event, log) {
      const { endedAt, ...session } = event;
      if (!owned.has(session.sessionId) && deps) {
        try {
          if (await askOwner(deps.bus, session.sessionId, endedAt)) return;
        } catch (err) {
          log.warn(
            { err, stream_id: session.streamId },
            'session owner not reachable; ending the session here',
          );
        }
      }
      await runOffline(owned.get(session.sessionId) ?? session, endedAt, log);
    },
    async start(started) {
      deps = started;
      unsubscribe = await started.bus.subscribe(TOPIC, (raw) => {
        const request = raw as OfflineRequest;
        const session = owned.get(request?.session_id);
        if (!session || request.from === nodeId) return;
        void (async () => {
          await runOffline(session, new Date(request.ended_at), started.log);
          await started.bus.publish(request.reply_to, { ok: true }).catch(() => {});
        })();
      });
    },
    async stop() {
      await unsubscribe?.().catch(() => {});
      unsubscribe = null;
    },
  };
}
