import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

// Recording sessions on this node's disk: DATA_DIR/vod/<session id>/ holds the chunks ffmpeg
// writes (chunk_NNN.mkv) and a manifest saying whose they are and where they go on the owner's
// storage. The directory outlives a restart, so an interrupted offload resumes; it is removed when
// its last chunk is offloaded after the session ended.

const ZManifest = z.object({
  streamId: z.number().int(),
  userId: z.number().int(),
  sessionId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
  /** `StreamName/YYYY-MM-DD_HH-MM-SS`, below the storage's remote_path. */
  remoteDir: z.string().min(1),
  ended: z.boolean(),
  /** Highest chunk index offloaded (and so deleted here): a new run never reuses a number. */
  offloaded: z.number().int().default(-1),
});
export type SessionManifest = z.infer<typeof ZManifest>;

const CHUNK = /^chunk_(\d{3,})\.mkv$/;

export const sessionsDir = (dataDir: string) => join(dataDir, 'vod');
export const sessionDir = (dataDir: string, sessionId: string) => join(sessionsDir(dataDir), sessionId);
const manifestFile = (dir: string) => join(dir, 'session.json');

export const isSessionId = (id: string) => /^[A-Za-z0-9-]{1,64}$/.test(id);

export function writeManifest(dataDir: string, manifest: SessionManifest) {
  const dir = sessionDir(dataDir, manifest.sessionId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(`${manifestFile(dir)}.tmp`, JSON.stringify(manifest), { mode: 0o600 });
  renameSync(`${manifestFile(dir)}.tmp`, manifestFile(dir));
}

export function readManifest(dataDir: string, sessionId: string): SessionManifest | null {
  try {
    const parsed = ZManifest.safeParse(
      JSON.parse(readFileSync(manifestFile(sessionDir(dataDir, sessionId)), 'utf8')),
    );
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function listSessions(dataDir: string): SessionManifest[] {
  let names: string[];
  try {
    names = readdirSync(sessionsDir(dataDir));
  } catch {
    return [];
  }
  return names
    .filter(isSessionId)
    .map((id) => readManifest(dataDir, id))
    .filter((m): m is SessionManifest => m !== null);
}

function updateManifest(dataDir: string, sessionId: string, patch: (m: SessionManifest) => SessionManifest) {
  const manifest = readManifest(dataDir, sessionId);
  if (manifest) writeManifest(dataDir, patch(manifest));
}

export const markEnded = (dataDir: string, sessionId: string) =>
  updateManifest(dataDir, sessionId, (m) => ({ ...m, ended: true }));

export const markOffloaded = (dataDir: string, sessionId: string, index: number) =>
  updateManifest(dataDir, sessionId, (m) => ({ ...m, offloaded: Math.max(m.offloaded, index) }));

/** The chunk files of a session, by index. */
export function listChunks(
  dataDir: string,
  sessionId: string,
): Array<{ index: number; name: string; path: string }> {
  const dir = sessionDir(dataDir, sessionId);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, m: CHUNK.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
    .map((e) => ({ index: Number(e.m[1]), name: e.name, path: join(dir, e.name) }))
    .sort((a, b) => a.index - b.index);
}

/** The index the next recording run of a session starts at (after every chunk seen so far). */
export const nextChunkIndex = (dataDir: string, sessionId: string) =>
  listChunks(dataDir, sessionId).reduce(
    (max, c) => Math.max(max, c.index + 1),
    (readManifest(dataDir, sessionId)?.offloaded ?? -1) + 1,
  );

export function removeSession(dataDir: string, sessionId: string) {
  rmSync(sessionDir(dataDir, sessionId), { recursive: true, force: true });
}
