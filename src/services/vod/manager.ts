import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import {
  deletePath,
  downloadFile,
  listDirectory,
  makeDirectory,
  readFile,
  renamePath,
  type SftpDeps,
  uploadFile,
  writeFile,
} from '../sftp/sftp';
import { cleanVodPath, INVALID_PATH, remotePathOf, virtualPathOf } from './paths';
import { loadVodTarget } from './storage';

// The generic SFTP manager on the VOD storage (seed 002 "SFTP VOD Storage"): the SFTP browser's
// operations, confined to the storage's `remote_path`. Clients see paths below it (`/` is the VOD
// directory), so neither a request nor a response ever names anything outside it.

type Deps = { db: Db; box: SecretBox; userId: number };

/** The storage as the SFTP browser's session source, with its root (404 without storage). */
async function open(deps: Deps): Promise<{ sftp: SftpDeps; root: string }> {
  const vod = await loadVodTarget(deps);
  return { sftp: { loadTarget: async () => vod.target }, root: vod.root };
}

/** A path that may not be the VOD directory itself (delete, rename). */
function belowRoot(root: string, path: string) {
  if (cleanVodPath(path) === '') throw new AppError('BAD_REQUEST', INVALID_PATH);
  return remotePathOf(root, path);
}

export async function listVodDirectory(deps: Deps & { path: string }) {
  const { sftp, root } = await open(deps);
  const result = await listDirectory(sftp, remotePathOf(root, deps.path));
  return { ...result, path: `/${cleanVodPath(deps.path)}` };
}

export async function readVodFile(deps: Deps & { path: string }) {
  const { sftp, root } = await open(deps);
  const result = await readFile(sftp, belowRoot(root, deps.path));
  return { ...result, path: virtualPathOf(root, result.path) };
}

export async function writeVodFile(
  deps: Deps & { path: string; content: string; encoding: 'utf8' | 'base64' },
) {
  const { sftp, root } = await open(deps);
  return writeFile(sftp, belowRoot(root, deps.path), deps.content, deps.encoding);
}

export async function makeVodDirectory(deps: Deps & { path: string }) {
  const { sftp, root } = await open(deps);
  return makeDirectory(sftp, belowRoot(root, deps.path));
}

export async function renameVodPath(deps: Deps & { old_path: string; new_path: string }) {
  const { sftp, root } = await open(deps);
  return renamePath(sftp, belowRoot(root, deps.old_path), belowRoot(root, deps.new_path));
}

export async function deleteVodPath(deps: Deps & { path: string }) {
  const { sftp, root } = await open(deps);
  return deletePath(sftp, belowRoot(root, deps.path));
}

export async function downloadVodPath(
  deps: Deps & { path: string },
  send: Parameters<typeof downloadFile>[2],
) {
  const { sftp, root } = await open(deps);
  return downloadFile(sftp, belowRoot(root, deps.path), send);
}

export async function uploadVodFile(
  deps: Deps & { dir: string; name: string; source: NodeJS.ReadableStream; maxBytes: number },
) {
  const { sftp, root } = await open(deps);
  const result = await uploadFile(sftp, {
    dir: remotePathOf(root, deps.dir),
    name: deps.name,
    source: deps.source,
    maxBytes: deps.maxBytes,
  });
  return { ...result, path: virtualPathOf(root, result.path) };
}
