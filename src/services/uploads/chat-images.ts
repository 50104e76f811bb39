import { randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AppError } from '../../core/errors';
import { IMAGE_TYPES, type ImageExt, sniffImageType } from './image-type';

// Chat images (API.md §8): stored under DATA_DIR/uploads/chat with an unguessable name, served to
// anyone holding the URL. The name is the only secret and the only input the server path takes.

/** Seed 002: "Max size: 5MB". */
export const CHAT_IMAGE_MAX_BYTES = 5 * 1024 * 1024;
export const CHAT_IMAGE_URL_PREFIX = '/static/uploads/chat/';

export const CHAT_IMAGE_TOO_LARGE = 'Image must be at most 5 MB';
export const CHAT_IMAGE_WRONG_TYPE = 'Only JPEG, PNG, GIF and WebP images are accepted';

/** 16 random bytes in base64url are 22 characters; the extension is the sniffed type. */
export const CHAT_IMAGE_NAME = /^[A-Za-z0-9_-]{22}\.(jpg|png|gif|webp)$/;

export const chatImageDir = (dataDir: string) => resolve(dataDir, 'uploads', 'chat');

/** Checks the bytes, stores them under a new random name and returns the public URL. */
export async function saveChatImage(opts: { dataDir: string; data: Buffer }): Promise<{ url: string }> {
  if (opts.data.length > CHAT_IMAGE_MAX_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', CHAT_IMAGE_TOO_LARGE);
  const ext = sniffImageType(opts.data);
  if (!ext) throw new AppError('UNSUPPORTED_MEDIA_TYPE', CHAT_IMAGE_WRONG_TYPE);
  const dir = chatImageDir(opts.dataDir);
  // Only the server reads these files; the web server in front (if any) goes through us.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const name = `${randomBytes(16).toString('base64url')}.${ext}`;
  // `wx`: a name collision (2^-128) fails loudly instead of replacing someone's image.
  await writeFile(join(dir, name), opts.data, { flag: 'wx', mode: 0o600 });
  return { url: `${CHAT_IMAGE_URL_PREFIX}${name}` };
}

export type StoredChatImage = { path: string; contentType: string; size: number };

/** The stored image for a URL name, or undefined for any name we could not have issued. */
export async function findChatImage(opts: {
  dataDir: string;
  name: string;
}): Promise<StoredChatImage | undefined> {
  const match = CHAT_IMAGE_NAME.exec(opts.name);
  if (!match) return undefined;
  const path = join(chatImageDir(opts.dataDir), opts.name);
  try {
    const info = await stat(path);
    if (!info.isFile()) return undefined;
    return { path, contentType: IMAGE_TYPES[match[1] as ImageExt], size: info.size };
  } catch {
    return undefined;
  }
}
