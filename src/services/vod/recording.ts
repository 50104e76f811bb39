import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { vodStorage } from '../../db/schema';
import type { Supervisor } from '../processes/supervisor';
import { holdStreamOffline } from '../streams/holds';
import type { LiveSession } from '../streams/lifecycle';
import { ffmpegBaseArgs, mediaInputArgs, readSecrets } from './ffmpeg-args';
import { sessionDirName, streamDirName } from './paths';
import { isSessionId, markEnded, nextChunkIndex, readManifest, sessionDir, writeManifest } from './sessions';

// VOD recording (seed 002): while a stream is live and its owner has VOD storage, one supervised
// ffmpeg copies it into MKV chunks of VOD_CHUNK_SECONDS (5 minutes) with the segment muxer. A
// restart of the process (or of Portal) continues the numbering, so no chunk is overwritten. The
// stream is held at `is_live` 2 from the start of the recording until the offloader has sent its
// last chunk (holds.ts), so the end of the stream cannot race the hold.

type Env = { FFMPEG_PATH: string; MEDIA_READ_PROTOCOL: 'rtsp' | 'hls'; VOD_CHUNK_SECONDS: number };
type Log = { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };

export const recordProcessId = (streamId: number) => `record:${streamId}`;
export const vodHolder = (sessionId: string) => `vod:${sessionId}`;

export type Recorder = ReturnType<typeof createRecorder>;

export function createRecorder(deps: {
  db: Db;
  supervisor: Supervisor;
  dataDir: string;
  env: Env;
  secretKey: Buffer;
  log: Log;
}) {
  /** stream id → session recorded on this node. */
  const recording = new Map<number, string>();

  function run(session: LiveSession) {
    const dir = sessionDir(deps.dataDir, session.sessionId);
    recording.set(session.streamId, session.sessionId);
    deps.supervisor.start({
      id: recordProcessId(session.streamId),
      command: deps.env.FFMPEG_PATH,
      meta: { kind: 'record', streamId: session.streamId, sessionId: session.sessionId },
      secrets: readSecrets(session, deps.secretKey),
      args: () => [
        ...ffmpegBaseArgs(),
        ...mediaInputArgs(session, deps.env.MEDIA_READ_PROTOCOL),
        '-map',
        '0',
        '-c',
        'copy',
        '-f',
        'segment',
        '-segment_time',
        String(deps.env.VOD_CHUNK_SECONDS),
        '-segment_format',
        'matroska',
        '-reset_timestamps',
        '1',
        '-segment_start_number',
        String(nextChunkIndex(deps.dataDir, session.sessionId)),
        `${dir}/chunk_%03d.mkv`,
      ],
      isProgress: (line) => line.startsWith('progress='),
    });
  }

  return {
    /**
     * Starts recording a session that went live, when the owner has VOD storage; `resume` continues
     * a session this node was recording before a restart.
     */
    async start(session: LiveSession, opts: { resume?: boolean } = {}) {
      if (!isSessionId(session.sessionId) || recording.has(session.streamId)) return false;
      const existing = readManifest(deps.dataDir, session.sessionId);
      if (!existing) {
        if (opts.resume) return false;
        const [storage] = await deps.db
          .select({ userId: vodStorage.userId })
          .from(vodStorage)
          .where(eq(vodStorage.userId, session.userId));
        if (!storage) return false;
        writeManifest(deps.dataDir, {
          streamId: session.streamId,
          userId: session.userId,
          sessionId: session.sessionId,
          remoteDir: `${streamDirName(session.title, session.streamId)}/${sessionDirName(session.startedAt)}`,
          ended: false,
          offloaded: -1,
        });
      }
      await holdStreamOffline(deps, {
        streamId: session.streamId,
        holder: vodHolder(session.sessionId),
        sessionId: session.sessionId,
      });
      deps.log.info({ stream_id: session.streamId, session_id: session.sessionId }, 'vod recording started');
      run(session);
      return true;
    },

    /** Stops recording a stream; the ffmpeg writes its last chunk out before it exits. */
    async stop(streamId: number) {
      const sessionId = recording.get(streamId);
      if (sessionId === undefined) return;
      // Still "recording" until ffmpeg has closed its last chunk: the offloader leaves it alone.
      await deps.supervisor.stop(recordProcessId(streamId));
      recording.delete(streamId);
      markEnded(deps.dataDir, sessionId);
      deps.log.info({ stream_id: streamId, session_id: sessionId }, 'vod recording stopped');
    },

    /** Whether a session's ffmpeg may still write (its newest chunk is unfinished then). */
    isRecording: (sessionId: string) => [...recording.values()].includes(sessionId),
    sessionOf: (streamId: number) => recording.get(streamId),
    streams: () => [...recording.keys()],
  };
}
