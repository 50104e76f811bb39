import { posix } from 'node:path';
import { AppError } from '../../core/errors';

// Paths of the VOD storage. Every path a client sends is relative to the storage's `remote_path`
// (`/` is that directory): a `..` segment, a NUL byte or a backslash is refused outright rather
// than clamped, so a request can never name anything outside the VOD directory.

export const INVALID_PATH = 'Invalid path';
export const MKV_ONLY = 'Only .mkv files are allowed';

export const isMkv = (name: string) => name.toLowerCase().endsWith('.mkv');

/** A client path as a clean relative path (`''` for the root); throws 400 "Invalid path". */
export function cleanVodPath(input: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(input)) throw new AppError('BAD_REQUEST', INVALID_PATH);
  const segments = input.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) throw new AppError('BAD_REQUEST', INVALID_PATH);
  return segments.join('/');
}

/** The remote path for a client path under `root` (absolute, or relative to the login directory). */
export function remotePathOf(root: string, input: string): string {
  const rel = cleanVodPath(input);
  return rel === '' ? root : posix.join(root, rel);
}

/** A client path of a file that must be an `.mkv` below the root (recordings, zips, deletes). */
export function mkvPathOf(root: string, input: string): { rel: string; remote: string } {
  const rel = cleanVodPath(input);
  if (rel === '') throw new AppError('BAD_REQUEST', INVALID_PATH);
  if (!isMkv(rel)) throw new AppError('BAD_REQUEST', MKV_ONLY);
  return { rel, remote: posix.join(root, rel) };
}

/** How a remote path below `root` looks to the client (`/` for the root itself). */
export function virtualPathOf(root: string, remote: string): string {
  const base = posix.normalize(root).replace(/\/+$/, '');
  const path = posix.normalize(remote);
  if (path === base || (base === '' && path === '/')) return '/';
  return path.startsWith(`${base}/`) ? path.slice(base.length) : `/${path.replace(/^\/+/, '')}`;
}

/**
 * A stream title as one directory name of the seed's layout `StreamName/YYYY-MM-DD_HH-MM-SS/`:
 * separators, control bytes and characters that trouble other file systems become `_`.
 */
export function streamDirName(title: string, streamId: number): string {
  const cleaned = title
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are replaced
    .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '_')
    .slice(0, 100)
    .trim();
  return cleaned === '' ? `stream_${streamId}` : cleaned;
}

/** `YYYY-MM-DD_HH-MM-SS` in UTC, the seed's session directory name. */
export function sessionDirName(at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(0, 10)}_${iso.slice(11, 19).replace(/:/g, '-')}`;
}

/** `chunk_NNN.mkv` (at least three digits, more past 999). */
export const chunkName = (index: number) => `chunk_${String(index).padStart(3, '0')}.mkv`;
