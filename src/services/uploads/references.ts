import { createHmac } from 'node:crypto';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { inArray } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import { chatMessages, dmMessages } from '../../db/schema';
import { CHAT_IMAGE_NAME, CHAT_IMAGE_URL_PREFIX, chatImageDir } from './chat-images';

// When an uploaded chat image may go. A message's attachments are sealed, so the database cannot
// be asked "which messages show this file?" by name; each message with an image also stores a
// keyed hash of the file name (`upload_key`, like the search blind index: equal names give equal
// keys, a dump reveals nothing). A file is deleted when the last message referencing it is deleted
// (by its author, a moderator or retention), and the retention sweep removes files no message
// references once they are older than a grace period (uploads never sent, messages that went
// with their channel or conversation, files left by a crash between the two steps).

const PURPOSE = 'chat-upload-ref-v1';
/** Uploads no message references are kept this long (the client uploads, then sends). */
export const UPLOAD_GRACE_MS = 24 * 60 * 60_000;

export type UploadDeps = {
  db: Db;
  secretKey: Buffer;
  dataDir: string | undefined;
  log: { warn(obj: object, msg?: string): void };
};

/** The `image_url` in a message's sealed attachments (`{image_url}`), or null. */
export function imageUrlOf(box: SecretBox, sealed: string | null): string | null {
  if (!sealed) return null;
  return (JSON.parse(box.decrypt(sealed)) as { image_url?: string }).image_url ?? null;
}

/** What the chat services' deps give for this (DATA_DIR absent: files are left to the sweep). */
export const uploadDepsOf = (deps: {
  db: Db;
  secretKey: Buffer;
  log: UploadDeps['log'];
  env?: { DATA_DIR?: string } | undefined;
}): UploadDeps => ({ db: deps.db, secretKey: deps.secretKey, dataDir: deps.env?.DATA_DIR, log: deps.log });

/** The stored file name of an `image_url` we issued, or undefined. */
export function uploadNameOf(imageUrl: string | null | undefined): string | undefined {
  if (!imageUrl?.startsWith(CHAT_IMAGE_URL_PREFIX)) return undefined;
  const name = imageUrl.slice(CHAT_IMAGE_URL_PREFIX.length);
  return CHAT_IMAGE_NAME.test(name) ? name : undefined;
}

/** `upload_key` of a message showing `imageUrl` (null when it is not one of our uploads). */
export function uploadKeyOf(secretKey: Buffer, imageUrl: string | null | undefined): string | null {
  const name = uploadNameOf(imageUrl);
  if (name === undefined) return null;
  return createHmac('sha256', secretKey).update(PURPOSE).update('\0').update(name).digest('base64url');
}

/** The keys among `keys` that some channel or DM message still references. */
async function referenced(db: Db, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const [inChat, inDms] = await Promise.all([
    db
      .select({ key: chatMessages.uploadKey })
      .from(chatMessages)
      .where(inArray(chatMessages.uploadKey, keys)),
    db.select({ key: dmMessages.uploadKey }).from(dmMessages).where(inArray(dmMessages.uploadKey, keys)),
  ]);
  return new Set([...inChat, ...inDms].map((r) => r.key).filter((k): k is string => k !== null));
}

async function remove(deps: UploadDeps, name: string): Promise<boolean> {
  try {
    await unlink(join(chatImageDir(deps.dataDir!), name));
    return true;
  } catch (err) {
    // Another node's DATA_DIR may hold it (its own sweep removes it there), or it went already.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') deps.log.warn({ err }, 'chat upload not deleted');
    return false;
  }
}

/** After messages showing these images were deleted: removes the files no message shows any more. */
export async function releaseUploads(deps: UploadDeps, imageUrls: Array<string | null | undefined>) {
  if (!deps.dataDir) return 0;
  const names = [...new Set(imageUrls.map(uploadNameOf).filter((n): n is string => n !== undefined))];
  if (names.length === 0) return 0;
  const keyOf = new Map(names.map((n) => [n, uploadKeyOf(deps.secretKey, `${CHAT_IMAGE_URL_PREFIX}${n}`)!]));
  const still = await referenced(deps.db, [...keyOf.values()]);
  let removed = 0;
  for (const [name, key] of keyOf) if (!still.has(key) && (await remove(deps, name))) removed++;
  return removed;
}

/** Removes this node's uploads that are older than `graceMs` and referenced by no message. */
export async function sweepOrphanUploads(deps: UploadDeps, opts: { now?: Date; graceMs?: number } = {}) {
  if (!deps.dataDir) return 0;
  let names: string[];
  try {
    names = (await readdir(chatImageDir(deps.dataDir))).filter((n) => CHAT_IMAGE_NAME.test(n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const cutoff = (opts.now ?? new Date()).getTime() - (opts.graceMs ?? UPLOAD_GRACE_MS);
  let removed = 0;
  // In batches, so a directory of many files never builds one huge query.
  for (let i = 0; i < names.length; i += 500) {
    const old: string[] = [];
    for (const name of names.slice(i, i + 500)) {
      const info = await stat(join(chatImageDir(deps.dataDir), name)).catch(() => null);
      if (info && info.mtimeMs < cutoff) old.push(name);
    }
    const keyOf = new Map(old.map((n) => [n, uploadKeyOf(deps.secretKey, `${CHAT_IMAGE_URL_PREFIX}${n}`)!]));
    const still = await referenced(deps.db, [...keyOf.values()]);
    for (const [name, key] of keyOf) if (!still.has(key) && (await remove(deps, name))) removed++;
  }
  return removed;
}
