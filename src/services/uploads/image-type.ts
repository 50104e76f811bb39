// Which image a file is, read from its first bytes only: a client's Content-Type and file name are
// whatever it says they are, so they never decide what we store or the type we serve it with.

export const IMAGE_TYPES = {
  jpg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
} as const;

export type ImageExt = keyof typeof IMAGE_TYPES;

const startsWith = (data: Uint8Array, bytes: readonly number[], offset = 0) =>
  data.length >= offset + bytes.length && bytes.every((b, i) => data[offset + i] === b);

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const GIF87 = ascii('GIF87a');
const GIF89 = ascii('GIF89a');
const RIFF = ascii('RIFF');
const WEBP = ascii('WEBP');

/** The extension for a JPEG, PNG, GIF or WebP by its magic bytes; undefined for anything else. */
export function sniffImageType(data: Uint8Array): ImageExt | undefined {
  if (startsWith(data, JPEG)) return 'jpg';
  if (startsWith(data, PNG)) return 'png';
  if (startsWith(data, GIF87) || startsWith(data, GIF89)) return 'gif';
  if (startsWith(data, RIFF) && startsWith(data, WEBP, 8)) return 'webp';
  return undefined;
}
