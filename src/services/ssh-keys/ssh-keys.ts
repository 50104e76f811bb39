import { createHash } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import ssh2 from 'ssh2';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { sshKeys } from '../../db/schema';
import { withinUserCap } from '../users/per-user-cap';

// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
const { utils } = ssh2;

// SSH key pairs of API.md §6: generated on the server, the private key returned once and never
// stored; only the public half (and its fingerprint) is kept for listing and authorized_keys.

export const SSH_KEY_TYPES = ['ed25519', 'rsa'] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

/** 3072-bit RSA: the OpenSSH default, and much faster to generate than 4096. */
const RSA_BITS = 3072;

type Row = typeof sshKeys.$inferSelect;

export const sshKeyView = (row: Row) => ({
  id: row.id,
  name: row.name,
  key_type: row.keyType,
  public_key: row.publicKey,
  fingerprint: row.fingerprint,
  created_at: row.createdAt.toISOString(),
});

/** `SHA256:<base64 without padding>` of the key blob, as `ssh-keygen -l` prints it. */
export function fingerprintOf(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.split(' ')[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function generateOnce(type: SshKeyType, comment: string): Promise<{ private: string; public: string }> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, keys: { private: string; public: string }) =>
      err ? reject(err) : resolve(keys);
    if (type === 'rsa') utils.generateKeyPair('rsa', { bits: RSA_BITS, comment }, done);
    else utils.generateKeyPair('ed25519', { comment }, done);
  });
}

/** Whether the private key parses and yields exactly the public key handed out with it. */
function wellFormed(pair: { private: string; public: string }): boolean {
  const parsed = utils.parseKey(pair.private);
  if (parsed instanceof Error || Array.isArray(parsed)) return false;
  const [type, blob] = pair.public.trim().split(' ');
  return parsed.type === type && parsed.getPublicSSH().toString('base64') === blob;
}

/**
 * ssh2 1.17 writes about 1 ed25519 private key in 400 that neither it nor ssh-keygen can read
 * ("Malformed OpenSSH private key"); a key the user cannot use is worthless, so a malformed pair
 * is thrown away and made again.
 */
export async function generateSshKeyPair(
  type: SshKeyType,
  comment: string,
): Promise<{ private: string; public: string }> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const pair = await generateOnce(type, comment);
    if (wellFormed(pair)) return pair;
  }
  throw new Error(`ssh2 produced no readable ${type} key in 8 attempts`);
}

export async function createSshKey(opts: {
  db: Db;
  userId: number;
  name: string;
  keyType: SshKeyType;
  maxKeys: number;
}) {
  // The comment ends the authorized_keys line: no control characters may reach it.
  const comment = opts.name.replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, ' ').trim();
  const pair = await generateSshKeyPair(opts.keyType, comment);
  // `type base64` only; the name is shown separately and added as the comment in authorized_keys.
  const publicKey = pair.public.trim().split(' ').slice(0, 2).join(' ');
  const [row] = await withinUserCap(opts.db, {
    userId: opts.userId,
    max: opts.maxKeys,
    what: 'SSH keys',
    count: (tx) => tx.$count(sshKeys, eq(sshKeys.userId, opts.userId)),
    insert: (tx) =>
      tx
        .insert(sshKeys)
        .values({
          userId: opts.userId,
          name: opts.name,
          keyType: opts.keyType,
          publicKey,
          fingerprint: fingerprintOf(publicKey),
        })
        .returning(),
  });
  return { ...sshKeyView(row!), private_key: pair.private };
}

export async function listSshKeys(db: Db, userId: number, page: { limit: number; offset: number }) {
  const mine = eq(sshKeys.userId, userId);
  const rows = await db
    .select()
    .from(sshKeys)
    .where(mine)
    .orderBy(asc(sshKeys.id))
    .limit(page.limit)
    .offset(page.offset);
  return { keys: rows.map(sshKeyView), total: await db.$count(sshKeys, mine) };
}

export async function getSshKey(db: Db, userId: number, id: number) {
  const [row] = await db
    .select()
    .from(sshKeys)
    .where(and(eq(sshKeys.id, id), eq(sshKeys.userId, userId)));
  if (!row) throw new AppError('NOT_FOUND', 'SSH key not found');
  return sshKeyView(row);
}

export async function deleteSshKey(db: Db, userId: number, id: number) {
  const deleted = await db
    .delete(sshKeys)
    .where(and(eq(sshKeys.id, id), eq(sshKeys.userId, userId)))
    .returning({ id: sshKeys.id });
  if (deleted.length === 0) throw new AppError('NOT_FOUND', 'SSH key not found');
}

/** One `type base64 name` line per key, newline-terminated (the authorized_keys format). */
export async function authorizedKeys(db: Db, userId: number) {
  const keys = (
    await db.select().from(sshKeys).where(eq(sshKeys.userId, userId)).orderBy(asc(sshKeys.id))
  ).map(sshKeyView);
  const comment = (name: string) => name.replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, ' ').trim();
  return keys.map((k) => `${k.public_key} ${comment(k.name)}\n`).join('');
}
