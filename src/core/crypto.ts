import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  scrypt as scryptCb,
  timingSafeEqual,
} from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (
  pw: string,
  salt: Buffer,
  len: number,
  opts: object,
) => Promise<Buffer>;

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** Keyed hash for low-entropy values (6-digit codes, IPs) so a database dump cannot brute-force them offline. */
export const hmacHex = (key: Buffer, purpose: string, text: string) =>
  createHmac('sha256', key).update(`${purpose}\0${text}`).digest('hex');

export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');

/** Constant-time string comparison (codes, tokens, hashes). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

/** A uniformly random string of decimal digits (login codes). */
export function randomDigits(length: number): string {
  let out = '';
  while (out.length < length) {
    // Rejection sampling keeps every digit uniform.
    for (const byte of randomBytes(length)) if (byte < 250 && out.length < length) out += String(byte % 10);
  }
  return out;
}

// AES-256-GCM at rest with a key id, so keys can rotate: "v1.<kid>.<iv>.<ciphertext+tag>".
export type SecretBox = {
  keyId: string;
  encrypt(plaintext: string): string;
  decrypt(sealed: string): string;
};

export function createSecretBox(key: Buffer, previous: Buffer[] = []): SecretBox {
  const idOf = (k: Buffer) => createHash('sha256').update(k).digest('hex').slice(0, 8);
  const keys = new Map([key, ...previous].map((k) => [idOf(k), k]));
  const keyId = idOf(key);
  return {
    keyId,
    encrypt(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `v1.${keyId}.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    decrypt(sealed) {
      const [version, kid, ivText, bodyText] = sealed.split('.');
      const k = kid ? keys.get(kid) : undefined;
      if (version !== 'v1' || !k || !ivText || !bodyText) throw new Error('unreadable sealed value');
      const body = Buffer.from(bodyText, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', k, Buffer.from(ivText, 'base64url'));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}

// scrypt (memory-hard, in node:crypto): N=2^15, r=8, p=1 uses 32 MiB per hash.
const SCRYPT = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password.normalize('NFKC'), salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  // Unknown users and code-only accounts still pay for one hash, so timing does not tell them apart.
  const parts = (stored ?? DUMMY_HASH).split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltText, hashText] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hashText, 'base64url');
  const actual = await scrypt(
    password.normalize('NFKC'),
    Buffer.from(saltText, 'base64url'),
    expected.length,
    {
      N: Number(n),
      r: Number(r),
      p: Number(p),
      maxmem: SCRYPT.maxmem,
    },
  );
  return stored !== null && timingSafeEqual(actual, expected);
}

const DUMMY_HASH = `scrypt$${SCRYPT.N}$8$1$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(32).toString('base64url')}`;
