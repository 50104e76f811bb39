import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SFTPWrapper, Stats } from 'ssh2';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { connectSsh, loadSshTarget, type SshTarget, sshAppError } from './ssh-session';

// The SFTP browser of API.md §6: one SSH session per request on an owned `ssh` connection,
// closed when the operation ends. Paths are POSIX; SFTP status codes become clear AppErrors.

export const MAX_READ_BYTES = 5 * 1024 * 1024;

/** Where a session goes: an owned `ssh` connection, or any other SSH target (VOD storage). */
export type SftpDeps = Deps;
type Deps =
  | { db: Db; box: SecretBox; userId: number; connectionId: string }
  | { loadTarget(): Promise<SshTarget> };

/** SFTP v3 status codes (ssh2's STATUS_CODE). */
const SFTP_STATUS = { NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4 } as const;

/**
 * Normalizes a remote path. NUL bytes are refused; a relative path (resolved by the server against
 * the login directory) may not climb out of it with `..`.
 */
export function normalizeRemotePath(input: string): string {
  if (input.includes('\0')) throw new AppError('BAD_REQUEST', 'Invalid path');
  const raw = input.trim() === '' ? '/' : input;
  const normalized = posix.normalize(raw);
  if (!raw.startsWith('/') && (normalized === '..' || normalized.startsWith('../')))
    throw new AppError('BAD_REQUEST', 'Invalid path');
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

export function sftpAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown })?.code;
  if (code === SFTP_STATUS.NO_SUCH_FILE) return new AppError('NOT_FOUND', 'Path not found');
  if (code === SFTP_STATUS.PERMISSION_DENIED)
    return new AppError('FORBIDDEN', 'Permission denied on the remote host');
  if (code === SFTP_STATUS.FAILURE)
    return new AppError(
      'CONFLICT',
      'The remote host refused the operation (for example: the target exists or the directory is not empty)',
    );
  return new AppError('SERVICE_UNAVAILABLE', `SFTP operation failed: ${(err as Error)?.message ?? err}`);
}

/** Opens a session, runs `fn` on its SFTP channel, and always closes the session. */
export async function withSftp<T>(deps: Deps, fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
  const target =
    'loadTarget' in deps
      ? await deps.loadTarget()
      : await loadSshTarget({ db: deps.db, box: deps.box, userId: deps.userId, id: deps.connectionId });
  let session: Awaited<ReturnType<typeof connectSsh>>;
  try {
    session = await connectSsh(target);
  } catch (err) {
    throw sshAppError(err);
  }
  const { client } = session;
  try {
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((err, channel) => (err ? reject(err) : resolve(channel))),
    );
    try {
      return await fn(sftp);
    } finally {
      sftp.end();
    }
  } catch (err) {
    throw sftpAppError(err);
  } finally {
    client.end();
  }
}

export const call = <T>(run: (cb: (err: Error | null | undefined, value: T) => void) => void) =>
  new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));

const S_IFMT = 0o170000;
export const typeOfMode = (mode: number): 'file' | 'directory' | 'symlink' => {
  const fmt = mode & S_IFMT;
  if (fmt === 0o040000) return 'directory';
  if (fmt === 0o120000) return 'symlink';
  return 'file';
};
const permissionsOf = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');
const isoOf = (seconds: number | undefined) => new Date((seconds ?? 0) * 1000).toISOString();

export type SftpEntry = {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
  modified: string;
  permissions: string;
};

export async function listDirectory(deps: Deps, path: string) {
  const dir = normalizeRemotePath(path);
  return withSftp(deps, async (sftp) => {
    const resolved = await call<string>((cb) => sftp.realpath(dir, cb));
    const list = await call<Array<{ filename: string; attrs: Stats }>>((cb) => sftp.readdir(dir, cb));
    const entries: SftpEntry[] = list
      .filter((e) => e.filename !== '.' && e.filename !== '..')
      .map((e) => ({
        name: e.filename,
        type: typeOfMode(e.attrs.mode ?? 0),
        size: e.attrs.size ?? 0,
        modified: isoOf(e.attrs.mtime),
        permissions: permissionsOf(e.attrs.mode ?? 0),
      }))
      .sort((a, b) =>
        a.type === 'directory' && b.type !== 'directory'
          ? -1
          : b.type === 'directory' && a.type !== 'directory'
            ? 1
            : a.name.localeCompare(b.name),
      );
    return { path: resolved, entries };
  });
}

/** Text is returned as is; anything that is not valid UTF-8 (or holds NUL bytes) as base64. */
function encodeContent(data: Buffer): { content: string; encoding: 'utf8' | 'base64' } {
  const text = data.toString('utf8');
  const binary = data.includes(0) || !Buffer.from(text, 'utf8').equals(data);
  return binary
    ? { content: data.toString('base64'), encoding: 'base64' }
    : { content: text, encoding: 'utf8' };
}

export async function readFile(deps: Deps, path: string) {
  const file = normalizeRemotePath(path);
  return withSftp(deps, async (sftp) => {
    const stats = await call<Stats>((cb) => sftp.stat(file, cb));
    if (typeOfMode(stats.mode ?? 0) === 'directory') throw new AppError('BAD_REQUEST', 'Path is a directory');
    if ((stats.size ?? 0) > MAX_READ_BYTES)
      throw new AppError('PAYLOAD_TOO_LARGE', 'File is larger than 5 MB');
    // Read at most one byte past the cap, in case the file grew after the stat.
    const data = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      const stream = sftp.createReadStream(file, { start: 0, end: MAX_READ_BYTES });
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        total += chunk.length;
      });
      stream.once('error', reject);
      stream.once('end', () => resolve(Buffer.concat(chunks, total)));
    });
    if (data.length > MAX_READ_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', 'File is larger than 5 MB');
    return { path: file, size: data.length, ...encodeContent(data) };
  });
}

export async function writeFile(deps: Deps, path: string, content: string, encoding: 'utf8' | 'base64') {
  const file = normalizeRemotePath(path);
  const data = Buffer.from(content, encoding);
  if (data.length > MAX_READ_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', 'File is larger than 5 MB');
  return withSftp(deps, async (sftp) => {
    await call<void>((cb) => sftp.writeFile(file, data, (err) => cb(err, undefined)));
    return { success: true as const };
  });
}

export async function makeDirectory(deps: Deps, path: string) {
  const dir = normalizeRemotePath(path);
  return withSftp(deps, async (sftp) => {
    await call<void>((cb) => sftp.mkdir(dir, (err) => cb(err, undefined)));
    return { success: true as const };
  });
}

export async function renamePath(deps: Deps, oldPath: string, newPath: string) {
  const from = normalizeRemotePath(oldPath);
  const to = normalizeRemotePath(newPath);
  return withSftp(deps, async (sftp) => {
    await call<void>((cb) => sftp.rename(from, to, (err) => cb(err, undefined)));
    return { success: true as const };
  });
}

/** Deletes a file, a symlink (not its target) or an empty directory. */
export async function deletePath(deps: Deps, path: string) {
  const target = normalizeRemotePath(path);
  if (target === '/') throw new AppError('BAD_REQUEST', 'Invalid path');
  return withSftp(deps, async (sftp) => {
    const stats = await call<Stats>((cb) => sftp.lstat(target, cb));
    if (typeOfMode(stats.mode ?? 0) === 'directory') {
      await call<void>((cb) => sftp.rmdir(target, (err) => cb(err, undefined)));
    } else {
      await call<void>((cb) => sftp.unlink(target, (err) => cb(err, undefined)));
    }
    return { success: true as const };
  });
}

/** A file name for Content-Disposition and uploads: no separators, no control bytes, not `.`/`..`. */
export function safeFileName(name: string): string | null {
  const base = name.split(/[\\/]/).pop() ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are what is refused
  if (base === '' || base === '.' || base === '..' || /[\u0000-\u001f\u007f]/.test(base)) return null;
  return base.length > 255 ? null : base;
}

/**
 * Streams a remote file to `send` while the SSH session stays open; the session closes when
 * `send` settles. Directories are 400, missing paths 404.
 */
export async function downloadFile(
  deps: Deps,
  path: string,
  send: (file: { name: string; size: number; stream: NodeJS.ReadableStream }) => Promise<void>,
) {
  const file = normalizeRemotePath(path);
  return withSftp(deps, async (sftp) => {
    const stats = await call<Stats>((cb) => sftp.stat(file, cb));
    if (typeOfMode(stats.mode ?? 0) === 'directory') throw new AppError('BAD_REQUEST', 'Path is a directory');
    const name = safeFileName(posix.basename(file)) ?? 'download';
    await send({ name, size: stats.size ?? 0, stream: sftp.createReadStream(file) });
  });
}

/**
 * Streams an upload into `dir/name` without holding it: the bytes go to a hidden temporary name
 * first and are renamed into place only once complete, so a broken upload leaves no half file (an
 * existing file of that name is replaced only then). More than `maxBytes` is 413.
 */
export async function uploadFile(
  deps: Deps,
  opts: { dir: string; name: string; source: NodeJS.ReadableStream; maxBytes: number },
) {
  const dir = normalizeRemotePath(opts.dir);
  const name = safeFileName(opts.name);
  if (!name || name !== opts.name) throw new AppError('BAD_REQUEST', 'Invalid file name');
  const target = posix.join(dir, name);
  const temp = posix.join(dir, `.${name}.${randomBytes(6).toString('hex')}.part`);
  return withSftp(deps, async (sftp) => {
    const stats = await call<Stats>((cb) => sftp.stat(dir, cb));
    if (typeOfMode(stats.mode ?? 0) !== 'directory')
      throw new AppError('BAD_REQUEST', 'path is not a directory');
    let size = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > opts.maxBytes) return done(new AppError('PAYLOAD_TOO_LARGE', 'File is too large'));
        done(null, chunk);
      },
    });
    try {
      await pipeline(opts.source, limit, sftp.createWriteStream(temp));
      const existing = await call<Stats>((cb) => sftp.lstat(target, cb)).catch(() => null);
      if (existing && typeOfMode(existing.mode ?? 0) === 'directory')
        throw new AppError('CONFLICT', 'A directory with this name exists');
      if (existing) await call<void>((cb) => sftp.unlink(target, (err) => cb(err, undefined)));
      await call<void>((cb) => sftp.rename(temp, target, (err) => cb(err, undefined)));
    } catch (err) {
      await call<void>((cb) => sftp.unlink(temp, () => cb(null, undefined)));
      throw err;
    }
    return { success: true as const, path: target, size };
  });
}
