import { createReadStream, rmSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { SFTPWrapper, Stats } from 'ssh2';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { call, typeOfMode, withSftp } from '../sftp/sftp';
import { releaseStreamOffline } from '../streams/holds';
import { vodHolder } from './recording';
import { listChunks, listSessions, markOffloaded, removeSession, type SessionManifest } from './sessions';
import { loadVodTarget } from './storage';

// The continuous offload of recorded chunks to the owner's SFTP storage. A chunk is finished when
// a later one exists (the segment muxer closes a chunk before it opens the next) or when its
// session is no longer recording. Each goes to `<remote_path>/StreamName/YYYY-MM-DD_HH-MM-SS/`
// under `chunk_NNN.mkv.part` first, resumed from the bytes already there after an interruption,
// renamed into place when complete; the local file is deleted only once the remote size matches.
// Failures back off per session (5 s doubling to 5 min). When a session has ended and its last
// chunk is offloaded, its hold on the stream is released: `is_live` 2 → 0.

type Log = { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };

const RETRY = { initialMs: 5000, maxMs: 300_000 };
const POLL_MS = 2000;

export type Offloader = ReturnType<typeof startOffloader>;

async function statOrNull(sftp: SFTPWrapper, path: string): Promise<Stats | null> {
  return call<Stats>((cb) => sftp.stat(path, cb)).catch(() => null);
}

/** `mkdir -p` below the storage root (the root itself must exist). */
async function ensureDir(sftp: SFTPWrapper, root: string, rel: string) {
  let path = root;
  for (const segment of rel.split('/')) {
    path = posix.join(path, segment);
    const stats = await statOrNull(sftp, path);
    if (stats && typeOfMode(stats.mode ?? 0) === 'directory') continue;
    if (stats) throw new AppError('CONFLICT', `${path} exists and is not a directory`);
    await call<void>((cb) => sftp.mkdir(path, (err) => cb(err, undefined)));
  }
}

/** Uploads one chunk (resuming a `.part`), verifies its size, and answers when it is safe to delete. */
export async function offloadChunk(sftp: SFTPWrapper, local: string, remoteDir: string, name: string) {
  const size = statSync(local).size;
  const target = posix.join(remoteDir, name);
  const temp = `${target}.part`;
  const done = await statOrNull(sftp, target);
  if (done?.size === size) return;
  const partial = await statOrNull(sftp, temp);
  const offset = partial && (partial.size ?? 0) <= size ? (partial.size ?? 0) : 0;
  if (offset < size) {
    await pipeline(
      createReadStream(local, { start: offset }),
      sftp.createWriteStream(temp, offset > 0 ? { flags: 'r+', start: offset } : { flags: 'w' }),
    );
  }
  const written = await statOrNull(sftp, temp);
  if (written?.size !== size) {
    // Longer than ours (another writer?) or short: start this chunk over next time.
    await call<void>((cb) => sftp.unlink(temp, () => cb(null, undefined)));
    throw new Error(`uploaded ${written?.size ?? 0} of ${size} bytes of ${name}`);
  }
  if (done) await call<void>((cb) => sftp.unlink(target, (err) => cb(err, undefined)));
  await call<void>((cb) => sftp.rename(temp, target, (err) => cb(err, undefined)));
  const final = await statOrNull(sftp, target);
  if (final?.size !== size) throw new Error(`remote size of ${name} does not match after the rename`);
}

export function startOffloader(deps: {
  db: Db;
  secretBox: SecretBox;
  dataDir: string;
  log: Log;
  isRecording(sessionId: string): boolean;
}) {
  const backoff = new Map<string, { failures: number; until: number }>();
  let stopped = false;
  let wake: (() => void) | null = null;
  let running: Promise<void> = Promise.resolve();

  const ready = (session: SessionManifest) => {
    const chunks = listChunks(deps.dataDir, session.sessionId);
    const recording = deps.isRecording(session.sessionId);
    const last = chunks.at(-1);
    return { chunks: chunks.filter((c) => !recording || c !== last), recording };
  };

  async function finish(session: SessionManifest) {
    removeSession(deps.dataDir, session.sessionId);
    backoff.delete(session.sessionId);
    const isLive = await releaseStreamOffline(deps, {
      streamId: session.streamId,
      holder: vodHolder(session.sessionId),
    });
    deps.log.info(
      { stream_id: session.streamId, session_id: session.sessionId, is_live: isLive },
      'vod session offloaded',
    );
  }

  async function offloadSession(session: SessionManifest) {
    const { chunks, recording } = ready(session);
    const sendable = chunks.filter((c) => statSync(c.path).size > 0);
    // Empty files (a run that never got a frame) are nothing to keep.
    for (const c of chunks) if (!sendable.includes(c)) rmSync(c.path, { force: true });
    if (sendable.length > 0) {
      let vod: Awaited<ReturnType<typeof loadVodTarget>>;
      try {
        vod = await loadVodTarget({ db: deps.db, box: deps.secretBox, userId: session.userId });
      } catch (err) {
        if (!(err instanceof AppError && err.status === 404)) throw err;
        // The owner removed the storage: there is nowhere to send these any more.
        deps.log.warn(
          { session_id: session.sessionId, chunks: sendable.length },
          'vod storage removed; chunks dropped',
        );
        for (const c of sendable) rmSync(c.path, { force: true });
        if (!recording && session.ended) await finish(session);
        return;
      }
      await withSftp({ loadTarget: async () => vod.target }, async (sftp) => {
        await ensureDir(sftp, vod.root, session.remoteDir);
        const dir = posix.join(vod.root, session.remoteDir);
        for (const chunk of sendable) {
          if (stopped) return;
          await offloadChunk(sftp, chunk.path, dir, chunk.name);
          markOffloaded(deps.dataDir, session.sessionId, chunk.index);
          rmSync(chunk.path, { force: true });
          deps.log.info({ session_id: session.sessionId, chunk: chunk.name }, 'vod chunk offloaded');
        }
      });
    }
    backoff.delete(session.sessionId);
    if (session.ended && !recording && listChunks(deps.dataDir, session.sessionId).length === 0)
      await finish(session);
  }

  async function pass() {
    for (const session of listSessions(deps.dataDir)) {
      if (stopped) return;
      const wait = backoff.get(session.sessionId);
      if (wait && Date.now() < wait.until) continue;
      try {
        await offloadSession(session);
      } catch (err) {
        const failures = (wait?.failures ?? 0) + 1;
        const delay = Math.min(RETRY.maxMs, RETRY.initialMs * 2 ** Math.min(failures - 1, 10));
        backoff.set(session.sessionId, { failures, until: Date.now() + delay });
        deps.log.warn(
          { session_id: session.sessionId, err: (err as Error).message, retry_in_ms: delay },
          'vod offload failed',
        );
      }
    }
  }

  async function loop() {
    while (!stopped) {
      await pass().catch((err) => deps.log.warn({ err }, 'vod offload pass failed'));
      if (stopped) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  }

  running = loop();
  return {
    /** Look for finished chunks now (a recording stopped, a chunk closed). */
    kick: () => wake?.(),
    async stop() {
      stopped = true;
      wake?.();
      await running;
    },
  };
}
