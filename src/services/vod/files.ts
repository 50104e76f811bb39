import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { SFTPWrapper, Stats } from 'ssh2';
import yazl from 'yazl';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { call, typeOfMode, withSftp } from '../sftp/sftp';
import { connectSsh, sshAppError } from '../sftp/ssh-session';
import { mkvPathOf } from './paths';
import type { VodFile, VodStorageInput } from './schemas';
import { loadVodTarget, type VodTarget, vodTestTarget } from './storage';
import { sortFiles, walkMkv } from './walk';

// The recorded VOD files of a user's storage (seed 002): the recursive listing, a streamed
// download (with byte ranges, so players can seek), delete, and a zip of up to 500 files streamed
// from SFTP one file at a time, never held whole.

export const MAX_ZIP_FILES = 500;

type Deps = { db: Db; box: SecretBox; userId: number };

/** An SFTP session on the user's storage (404 without one). */
export async function withVodSftp<T>(deps: Deps, fn: (sftp: SFTPWrapper, root: string) => Promise<T>) {
  const vod = await loadVodTarget(deps);
  return withSftp({ loadTarget: async () => vod.target }, (sftp) => fn(sftp, vod.root));
}

export async function listVodFiles(
  deps: Deps & {
    sort: 'name' | 'size' | 'modified';
    order: 'asc' | 'desc';
    limit: number;
    offset: number;
  },
) {
  return withVodSftp(deps, async (sftp, root) => {
    const path = await call<string>((cb) => sftp.realpath(root, cb));
    const { files, truncated } = await walkMkv(sftp, root);
    const sorted = sortFiles(files, deps.sort, deps.order);
    return {
      files: sorted.slice(deps.offset, deps.offset + deps.limit),
      path,
      total: sorted.length,
      limit: deps.limit,
      offset: deps.offset,
      truncated,
    };
  });
}

/**
 * Connects with the stored settings (or the request's on top of them) and counts the `.mkv` files
 * below the VOD directory. A failure is a result, not an error: the caller shows the reason.
 */
export async function testVodStorage(deps: Deps & { input: VodStorageInput }) {
  const vod: VodTarget = await vodTestTarget(deps);
  try {
    const session = await connectSsh(vod.target, { readyTimeoutMs: 10_000 }).catch((err) => {
      throw sshAppError(err);
    });
    try {
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
        session.client.sftp((err, channel) => (err ? reject(err) : resolve(channel))),
      );
      const stats = await call<Stats>((cb) => sftp.stat(vod.root, cb)).catch(() => null);
      if (!stats || typeOfMode(stats.mode ?? 0) !== 'directory') {
        return {
          success: false,
          message: `remote_path ${vod.root} is not a directory on the server`,
          mkv_count: null,
        };
      }
      const { files, truncated } = await walkMkv(sftp, vod.root);
      const count = files.length;
      return {
        success: true,
        message: `Connected; found ${count}${truncated ? '+' : ''} MKV file${count === 1 ? '' : 's'}`,
        mkv_count: count,
      };
    } finally {
      session.client.end();
    }
  } catch (err) {
    const message = err instanceof AppError ? err.message : `SFTP failed: ${(err as Error).message}`;
    return { success: false, message, mkv_count: null };
  }
}

async function statFile(sftp: SFTPWrapper, remote: string): Promise<Stats> {
  const stats = await call<Stats>((cb) => sftp.stat(remote, cb));
  if (typeOfMode(stats.mode ?? 0) === 'directory') throw new AppError('BAD_REQUEST', 'Path is a directory');
  return stats;
}

export type ByteRange = { start: number; end: number };

/**
 * One `bytes=` range of a Range header, or null to send the whole file (no header, several
 * ranges, or one that cannot be satisfied: RFC 9110 lets a server ignore Range).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || size === 0 || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    return suffix === 0 ? null : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start < size && start <= end ? { start, end } : null;
}

/** Streams one `.mkv` to `send`; the session stays open until `send` settles. */
export async function downloadVodFile(
  deps: Deps & { path: string; range: string | undefined },
  send: (file: { name: string; size: number; range: ByteRange | null; stream: Readable }) => Promise<void>,
) {
  return withVodSftp(deps, async (sftp, root) => {
    const { remote } = mkvPathOf(root, deps.path);
    const stats = await statFile(sftp, remote);
    const size = stats.size ?? 0;
    const range = parseRange(deps.range, size);
    const stream = sftp.createReadStream(remote, range ? { start: range.start, end: range.end } : {});
    await send({ name: posix.basename(remote), size, range, stream: stream as unknown as Readable });
  });
}

/** Deletes one `.mkv` (seed 002: only .mkv files can be deleted). */
export async function deleteVodFile(deps: Deps & { path: string }) {
  return withVodSftp(deps, async (sftp, root) => {
    const { remote } = mkvPathOf(root, deps.path);
    const stats = await call<Stats>((cb) => sftp.lstat(remote, cb));
    if (typeOfMode(stats.mode ?? 0) === 'directory') throw new AppError('BAD_REQUEST', 'Path is a directory');
    await call<void>((cb) => sftp.unlink(remote, (err) => cb(err, undefined)));
    return { success: true as const };
  });
}

/** The zip request's paths, checked before any byte goes out (each `.mkv`, none outside the root). */
export function checkZipList(files: string[]): string[] {
  if (files.length === 0) throw new AppError('BAD_REQUEST', 'files must have at least 1 items');
  if (files.length > MAX_ZIP_FILES)
    throw new AppError('BAD_REQUEST', `files must have at most ${MAX_ZIP_FILES} items`);
  const rels = files.map((f) => mkvPathOf('/', f).rel);
  return [...new Set(rels)];
}

/**
 * Streams a zip of the files (stored, not compressed: MKV is compressed already) to `send`. Every
 * file is checked first, so a missing one is a 404 before the response starts; then each file is
 * opened only when the zip reaches it.
 */
export async function zipVodFiles(deps: Deps & { files: string[] }, send: (zip: Readable) => Promise<void>) {
  const rels = checkZipList(deps.files);
  return withVodSftp(deps, async (sftp, root) => {
    const entries: Array<{ rel: string; remote: string; stats: Stats }> = [];
    for (const rel of rels) {
      const remote = posix.join(root, rel);
      const stats = await statFile(sftp, remote).catch((err) => {
        if ((err as { code?: unknown }).code === 2) throw new AppError('NOT_FOUND', `File not found: ${rel}`);
        throw err;
      });
      entries.push({ rel, remote, stats });
    }
    const zip = new yazl.ZipFile();
    let current: Readable | null = null;
    for (const entry of entries) {
      zip.addReadStreamLazy(
        entry.rel,
        { compress: false, size: entry.stats.size ?? 0, mtime: new Date((entry.stats.mtime ?? 0) * 1000) },
        (cb) => {
          current = sftp.createReadStream(entry.remote) as unknown as Readable;
          cb(null, current);
        },
      );
    }
    zip.end();
    const output = zip.outputStream as Readable;
    zip.on('error', (err: Error) => output.destroy(err));
    try {
      await send(output);
    } finally {
      (current as Readable | null)?.destroy();
    }
  });
}

export type { VodFile };
