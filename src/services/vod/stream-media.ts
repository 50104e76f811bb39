import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import { streams, users } from '../../db/schema';
import type { AppDeps } from '../../deps';
import { reapOrphans } from '../processes/pid-records';
import { createSupervisor } from '../processes/supervisor';
import { createRelayRuntime } from '../relays/runtime';
import type { LiveSession } from '../streams/lifecycle';
import { sessionOf } from '../streams/live-session';
import { LIVE } from '../streams/types';
import { startOffloader } from './offload';
import { createRecorder } from './recording';
import { listSessions, markEnded } from './sessions';

// The media work of live streams on this node, plugged into the stream lifecycle: relays and VOD
// recording start when a stream goes live here and stop when it ends; the offloader sends chunks
// to SFTP and releases the stream to `is_live` 0. At start-up, processes a dead Portal left behind
// are killed (pid-records.ts), and streams still live are resumed: the ones whose processes were
// found, whose recording was unfinished, or that a clean shutdown listed. Every few seconds each
// local stream is checked against the database, so an end or a relay edit handled by another node
// reaches this one too.

const RECONCILE_MS = 5000;

export type StreamMedia = Awaited<ReturnType<typeof startStreamMedia>>;

export async function startStreamMedia(deps: AppDeps) {
  const { env } = deps;
  const db = deps.database.db;
  const dataDir = resolve(env.DATA_DIR);
  const log = deps.log.child({ component: 'stream-media' });
  const registryDir = join(dataDir, 'processes');
  const resumeFile = join(dataDir, 'media-resume.json');

  const { reaped } = await reapOrphans(registryDir);
  if (reaped.length > 0)
    log.warn({ processes: reaped.length }, 'killed media processes left by an earlier run');

  const supervisor = createSupervisor({ registryDir, log });
  const mediaEnv = { ...env, FFMPEG_PATH: env.FFMPEG_PATH };
  const relays = createRelayRuntime({
    db,
    secretBox: deps.secretBox,
    supervisor,
    env: mediaEnv,
    secretKey: deps.secretKey,
    log,
  });
  const recorder = createRecorder({ db, supervisor, dataDir, env: mediaEnv, secretKey: deps.secretKey, log });
  const offloader = startOffloader({
    db,
    secretBox: deps.secretBox,
    dataDir,
    log,
    isRecording: recorder.isRecording,
  });

  async function wentLive(session: LiveSession) {
    await relays.streamLive(session);
    await recorder.start(session);
  }

  async function wentOffline(streamId: number) {
    await relays.streamOffline(streamId);
    await recorder.stop(streamId);
    offloader.kick();
  }

  const unsubscribe = [
    deps.streamLifecycle.onWentLive(wentLive),
    // The hold was taken when the recording started; stopping takes seconds, so it runs behind.
    deps.streamLifecycle.onWentOffline((event) => {
      void wentOffline(event.streamId).catch((err) =>
        log.warn({ err, stream_id: event.streamId }, 'stopping stream media failed'),
      );
    }),
    deps.relayChanges.listen((streamId) => relays.changed(streamId)),
  ];

  /** Live rows of these streams, with the owner's name (for the session view). */
  async function liveRows(ids: number[]) {
    if (ids.length === 0) return [];
    return db
      .select({ stream: streams, username: users.username })
      .from(streams)
      .innerJoin(users, eq(users.id, streams.userId))
      .where(inArray(streams.id, ids));
  }

  // Resume what this node ran before it stopped.
  const wanted = new Map<number, { sessionId: string; relays: boolean }>();
  for (const r of reaped) {
    const { streamId, sessionId, kind } = r.meta as { streamId?: number; sessionId?: string; kind?: string };
    if (typeof streamId === 'number' && typeof sessionId === 'string')
      wanted.set(streamId, {
        sessionId,
        relays: (wanted.get(streamId)?.relays ?? false) || kind === 'relay',
      });
  }
  try {
    for (const entry of JSON.parse(readFileSync(resumeFile, 'utf8')) as Array<{
      streamId: number;
      sessionId: string;
    }>)
      wanted.set(entry.streamId, { sessionId: entry.sessionId, relays: true });
  } catch {
    // No clean shutdown to resume from.
  }
  rmSync(resumeFile, { force: true });
  const unfinished = listSessions(dataDir).filter((s) => !s.ended);
  for (const s of unfinished)
    if (!wanted.has(s.streamId)) wanted.set(s.streamId, { sessionId: s.sessionId, relays: false });
  const rows = await liveRows([...wanted.keys()]);
  for (const { stream, username } of rows) {
    const want = wanted.get(stream.id);
    if (!want || stream.isLive !== LIVE.LIVE || stream.liveSessionId !== want.sessionId) continue;
    const session = sessionOf({ ...deps, env }, stream, username);
    if (want.relays) await relays.streamLive(session);
    await recorder.start(session, { resume: true });
    log.info({ stream_id: stream.id, session_id: session.sessionId }, 'resumed stream media');
  }
  for (const s of unfinished) if (!recorder.isRecording(s.sessionId)) markEnded(dataDir, s.sessionId);
  offloader.kick();

  // Streams ended (or edited) through another node.
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void (async () => {
      const ids = [...new Set([...relays.liveStreams(), ...recorder.streams()])];
      const rows = new Map((await liveRows(ids)).map((r) => [r.stream.id, r.stream]));
      for (const id of ids) {
        const stream = rows.get(id);
        const local = relays.sessionOf(id)?.sessionId ?? recorder.sessionOf(id);
        // Ended, live again with another session, or deleted while live.
        if (stream?.isLive !== LIVE.LIVE || stream.liveSessionId !== local) await wentOffline(id);
        else await relays.reconcile(id);
      }
    })()
      .catch((err) => log.warn({ err }, 'stream media check failed'))
      .finally(() => {
        checking = false;
      });
  }, RECONCILE_MS);
  timer.unref();

  return {
    relays,
    recorder,
    offloader,
    supervisor,
    /** Stops every process (chunks stay for the next start) and remembers what was live. */
    async stop() {
      clearInterval(timer);
      for (const off of unsubscribe) off();
      const live = relays
        .liveStreams()
        .map((streamId) => ({ streamId, sessionId: relays.sessionOf(streamId)?.sessionId }))
        .filter((e) => e.sessionId);
      if (live.length > 0) writeFileSync(resumeFile, JSON.stringify(live), { mode: 0o600 });
      await supervisor.stopAll();
      await offloader.stop();
    },
  };
}
