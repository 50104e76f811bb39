import { createHmac } from 'node:crypto';

/*
 * Blind index for searching encrypted messages. The database only ever sees an HMAC of each
 * normalized word, so equal words give equal tokens (the GIN index can match them) while a dump
 * reveals nothing without the key. The purpose string versions the scheme: changing the
 * normalization or the truncation means a new purpose and a re-index, never a silent mismatch.
 */
const PURPOSE = 'search-index-v1';
export const MIN_WORD = 2;
export const MAX_WORD = 64;
export const MAX_TOKENS = 256;
const TOKEN_BYTES = 16;

// Anything that is not a letter or digit separates words; combining marks are kept with their
// letter after NFKC so "café" and "cafe\u0301" agree.
const SEPARATOR = /[^\p{L}\p{M}\p{N}]+/u;

/** Normalized words of a text, in order, with repeats (ranking counts occurrences). */
export function allWordsOf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.normalize('NFKC').toLowerCase().split(SEPARATOR)) {
    // Length in code points, not UTF-16 units, so emoji-free scripts outside the BMP count fairly.
    const length = [...raw].length;
    if (length >= MIN_WORD && length <= MAX_WORD) out.push(raw);
  }
  return out;
}

/** The distinct normalized words of a text (first occurrence order). */
export function wordsOf(text: string): string[] {
  return [...new Set(allWordsOf(text))];
}

// The sub-key is cached per key: deriving it is cheap but messages are indexed in bulk.
const subKeys = new WeakMap<Buffer, Buffer>();
function subKeyOf(key: Buffer): Buffer {
  let sub = subKeys.get(key);
  if (!sub) {
    sub = createHmac('sha256', key).update(PURPOSE).digest();
    subKeys.set(key, sub);
  }
  return sub;
}

const tokenOf = (subKey: Buffer, word: string) =>
  createHmac('sha256', subKey).update(word, 'utf8').digest().subarray(0, TOKEN_BYTES).toString('base64url');

/** Tokens to store with a message: at most MAX_TOKENS distinct words (the rest is not searchable). */
export function searchTokensOf(key: Buffer, text: string): string[] {
  const subKey = subKeyOf(key);
  return wordsOf(text)
    .slice(0, MAX_TOKENS)
    .map((word) => tokenOf(subKey, word));
}

/** Tokens a query must all match; same normalization as stored messages. */
export function queryTokensOf(key: Buffer, query: string): string[] {
  const subKey = subKeyOf(key);
  return wordsOf(query).map((word) => tokenOf(subKey, word));
}
