import { eq, sql } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { vodStorage } from '../../db/schema';
import { parsePrivateKey } from '../connections/config';
import { endpointOf, type SshTarget } from '../sftp/ssh-session';
import type { VodStorageInput, VodStorageView } from './schemas';

// A user's VOD storage configuration: stored with its secrets sealed, read back redacted, and
// opened as an SSH target for the SFTP sessions of listings, transfers, the manager and uploads.

export const NO_STORAGE = 'VOD storage not configured';

type Row = typeof vodStorage.$inferSelect;
type Deps = { db: Db; box: SecretBox; userId: number };

const viewOf = (row: Row): VodStorageView => ({
  host: row.host,
  port: row.port,
  username: row.username,
  auth_method: row.authMethod === 'key' ? 'key' : 'password',
  remote_path: row.remotePath,
  has_password: row.password !== null,
  has_key: row.privateKey !== null,
  has_passphrase: row.passphrase !== null,
  host_key_fingerprint:
    row.hostKeyEndpoint === endpointOf(row.host, row.port) ? row.hostKeyFingerprint : null,
  updated_at: row.updatedAt.toISOString(),
});

async function findRow(db: Db, userId: number): Promise<Row | undefined> {
  const [row] = await db.select().from(vodStorage).where(eq(vodStorage.userId, userId));
  return row;
}

export async function getVodStorage({ db, userId }: { db: Db; userId: number }) {
  const row = await findRow(db, userId);
  return { storage: row ? viewOf(row) : null };
}

/** The configuration a PUT (or a test with a body) describes: the stored one with the input on top. */
type Plain = {
  host: string;
  port: number;
  username: string;
  authMethod: 'password' | 'key';
  password: string | null;
  privateKey: string | null;
  passphrase: string | null;
  remotePath: string;
};

function openRow(box: SecretBox, row: Row): Plain {
  const open = (v: string | null) => (v === null ? null : box.decrypt(v));
  return {
    host: row.host,
    port: row.port,
    username: row.username,
    authMethod: row.authMethod === 'key' ? 'key' : 'password',
    password: open(row.password),
    privateKey: open(row.privateKey),
    passphrase: open(row.passphrase),
    remotePath: row.remotePath,
  };
}

const required = (field: string) => new AppError('BAD_REQUEST', `${field} is required`);

function merge(current: Plain | undefined, input: VodStorageInput): Plain {
  const pick = <T>(sent: T | undefined, kept: T | undefined) => (sent !== undefined ? sent : kept);
  const host = pick(input.host, current?.host);
  const username = pick(input.username, current?.username);
  const remotePath = pick(input.remote_path, current?.remotePath);
  if (!host) throw required('host');
  if (!username) throw required('username');
  if (!remotePath) throw required('remote_path');
  const password = pick(input.password, current?.password) ?? null;
  const privateKey = pick(input.private_key, current?.privateKey) ?? null;
  const passphrase = pick(input.passphrase, current?.passphrase) ?? null;
  const authMethod =
    input.auth_method ??
    (input.private_key ? 'key' : input.password ? 'password' : (current?.authMethod ?? 'password'));
  if (authMethod === 'password' && !password) throw required('password');
  if (authMethod === 'key') {
    if (!privateKey) throw required('private_key');
    if (!parsePrivateKey(privateKey, passphrase ?? undefined))
      throw new AppError(
        'BAD_REQUEST',
        'private_key is not a readable private key (or the passphrase is wrong)',
      );
  }
  return {
    host,
    port: pick(input.port, current?.port) ?? 22,
    username,
    authMethod,
    password,
    privateKey,
    passphrase,
    remotePath,
  };
}

export async function putVodStorage(deps: Deps & { input: VodStorageInput }) {
  const { db, box, userId } = deps;
  const current = await findRow(db, userId);
  const next = merge(current && openRow(box, current), deps.input);
  const seal = (v: string | null) => (v === null ? null : box.encrypt(v));
  const values = {
    host: next.host,
    port: next.port,
    username: next.username,
    authMethod: next.authMethod,
    password: seal(next.password),
    privateKey: seal(next.privateKey),
    passphrase: seal(next.passphrase),
    remotePath: next.remotePath,
    updatedAt: sql`now()`,
  };
  const [row] = await db
    .insert(vodStorage)
    .values({ userId, ...values })
    .onConflictDoUpdate({ target: vodStorage.userId, set: values })
    .returning();
  return { storage: viewOf(row as Row) };
}

/** Removes the configuration only; remote files stay where they are (seed 002). */
export async function deleteVodStorage({ db, userId }: { db: Db; userId: number }) {
  const deleted = await db.delete(vodStorage).where(eq(vodStorage.userId, userId)).returning();
  if (deleted.length === 0) throw new AppError('NOT_FOUND', NO_STORAGE);
  return { success: true as const };
}

export type VodTarget = { target: SshTarget; root: string };

function targetOf(
  db: Db,
  userId: number,
  plain: Plain,
  hostKey: Pick<Row, 'hostKeyFingerprint' | 'hostKeyEndpoint'> | null,
  record: boolean,
): VodTarget {
  const endpoint = endpointOf(plain.host, plain.port);
  return {
    root: plain.remotePath,
    target: {
      connectionId: `vod:${userId}`,
      host: plain.host,
      port: plain.port,
      username: plain.username,
      password: plain.password ?? undefined,
      privateKey: plain.authMethod === 'key' ? (plain.privateKey ?? undefined) : undefined,
      passphrase: plain.passphrase ?? undefined,
      trustedFingerprint: hostKey?.hostKeyEndpoint === endpoint ? hostKey.hostKeyFingerprint : null,
      async recordHostKey(fingerprint) {
        if (!record) return;
        // Only for the configuration it was seen with: a PUT in between starts over.
        await db
          .update(vodStorage)
          .set({ hostKeyFingerprint: fingerprint, hostKeyEndpoint: endpoint })
          .where(
            sql`${vodStorage.userId} = ${userId} and ${vodStorage.host} = ${plain.host} and ${vodStorage.port} = ${plain.port}`,
          );
      },
    },
  };
}

/** The stored configuration as an SSH target; 404 "VOD storage not configured" without one. */
export async function loadVodTarget({ db, box, userId }: Deps): Promise<VodTarget> {
  const row = await findRow(db, userId);
  if (!row) throw new AppError('NOT_FOUND', NO_STORAGE);
  return targetOf(db, userId, openRow(box, row), row, true);
}

/**
 * The target a test connects to: the stored configuration with the request's fields on top. A
 * host key seen while testing unsaved settings is checked against the stored one but not recorded.
 */
export async function vodTestTarget(deps: Deps & { input: VodStorageInput }): Promise<VodTarget> {
  const row = await findRow(deps.db, deps.userId);
  const changed = Object.values(deps.input).some((v) => v !== undefined);
  if (!row && !changed) throw new AppError('NOT_FOUND', NO_STORAGE);
  const plain = merge(row && openRow(deps.box, row), deps.input);
  return targetOf(deps.db, deps.userId, plain, row ?? null, !changed);
}
