import { posix } from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import { call, typeOfMode } from '../sftp/sftp';
import { isMkv } from './paths';
import type { VodFile } from './schemas';

// The recursive `.mkv` listing of a VOD directory (seed 002: StreamName/YYYY-MM-DD_HH-MM-SS/
// chunk_NNN.mkv). Symbolic links are not followed (a link to `..` would never end), and the walk
// is bounded in depth and in entries so a huge or hostile tree cannot hold a request forever.

export const WALK_LIMITS = { maxDepth: 8, maxEntries: 50_000 } as const;

export type WalkResult = { files: VodFile[]; truncated: boolean };

export async function walkMkv(sftp: SFTPWrapper, root: string, limits = WALK_LIMITS): Promise<WalkResult> {
  const files: VodFile[] = [];
  let seen = 0;
  let truncated = false;
  const queue: Array<{ dir: string; rel: string; depth: number }> = [{ dir: root, rel: '', depth: 0 }];
  while (queue.length > 0) {
    const { dir, rel, depth } = queue.shift() as (typeof queue)[number];
    const entries = await call<Array<{ filename: string; attrs: Stats }>>((cb) => sftp.readdir(dir, cb));
    for (const entry of entries) {
      if (entry.filename === '.' || entry.filename === '..') continue;
      if (++seen > limits.maxEntries) return { files, truncated: true };
      const type = typeOfMode(entry.attrs.mode ?? 0);
      const name = rel === '' ? entry.filename : `${rel}/${entry.filename}`;
      if (type === 'directory') {
        if (depth + 1 < limits.maxDepth) {
          queue.push({ dir: posix.join(dir, entry.filename), rel: name, depth: depth + 1 });
        } else truncated = true;
      } else if (type === 'file' && isMkv(entry.filename)) {
        files.push({ name, size: entry.attrs.size ?? 0, modified: entry.attrs.mtime ?? 0 });
      }
    }
  }
  return { files, truncated };
}

const compare = {
  name: (a: VodFile, b: VodFile) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  size: (a: VodFile, b: VodFile) => a.size - b.size,
  modified: (a: VodFile, b: VodFile) => a.modified - b.modified,
} as const;

/** Sorted by one key, ties broken by name so pages are stable. */
export function sortFiles(files: VodFile[], sort: keyof typeof compare, order: 'asc' | 'desc') {
  const dir = order === 'asc' ? 1 : -1;
  return [...files].sort((a, b) => dir * (compare[sort](a, b) || compare.name(a, b)));
}
