import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import ssh2 from 'ssh2';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { userConnections } from '../../db/schema';
import { openConfig } from '../connections/config';

// One SSH session to an owned `ssh` connection, shared by the terminal relay and the SFTP browser:
// owner check (404 for anyone else), secrets opened from the sealed config, and the host key
// trusted on first use (its SHA256 fingerprint recorded on the connection, a mismatch refused).

const { Client } = ssh2;
type SshClient = InstanceType<typeof Client>;

export type SshTarget = {
  connectionId: string;
  host: string;
  port: number;
  username: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  passphrase?: string | undefined;
  /** The fingerprint recorded for this exact host:port, if any. */
  trustedFingerprint: string | null;
  /** Stores the fingerprint seen on the first successful connect (trust on first use). */
  recordHostKey(fingerprint: string): Promise<void>;
};

export const endpointOf = (host: string, port: number) => `${host}:${port}`;

/** `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it. */
export const fingerprintOf = (hostKey: Buffer) =>
  `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`;

/**
 * Loads an owned connection for an SSH session. Someone else's (or a missing) connection is 404;
 * a connection of another type is refused unless `allowOtherTypes` says how to describe it.
 */
export async function loadSshTarget(
  opts: { db: Db; box: SecretBox; userId: number; id: string },
  notSshMessage = 'Not an SSH connection',
): Promise<SshTarget> {
  const [row] = await opts.db
    .select()
    .from(userConnections)
    .where(and(eq(userConnections.id, opts.id), eq(userConnections.userId, opts.userId)));
  if (!row) throw new AppError('NOT_FOUND', 'Connection not found');
  if (row.type !== 'ssh') throw new AppError('BAD_REQUEST', notSshMessage);
  return sshTargetOf({
    id: row.id,
    host: row.host,
    port: row.port,
    config: openConfig(opts.box, 'ssh', row.config),
    hostKey: { fingerprint: row.hostKeyFingerprint, endpoint: row.hostKeyEndpoint },
    record: async (set) => {
      await opts.db.update(userConnections).set(set).where(eq(userConnections.id, row.id));
    },
  });
}

type HostKeyColumns = { hostKeyFingerprint: string; hostKeyEndpoint: string };

/** A target from an opened `ssh` config (a connection's or a service's) and its host key columns. */
export function sshTargetOf(src: {
  id: string;
  host: string;
  port: number;
  config: Record<string, unknown>;
  hostKey: { fingerprint: string | null; endpoint: string | null };
  record(set: HostKeyColumns): Promise<void>;
}): SshTarget {
  const { config } = src;
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const endpoint = endpointOf(src.host, src.port);
  return {
    connectionId: src.id,
    host: src.host,
    port: src.port,
    username: str(config.username) ?? '',
    password: str(config.password),
    privateKey: config.auth_method === 'password' ? undefined : str(config.private_key),
    passphrase: str(config.passphrase),
    trustedFingerprint: src.hostKey.endpoint === endpoint ? src.hostKey.fingerprint : null,
    recordHostKey: (fingerprint) =>
      src.record({ hostKeyFingerprint: fingerprint, hostKeyEndpoint: endpoint }),
  };
}

export class SshConnectError extends Error {
  constructor(
    message: string,
    readonly kind: 'host_key' | 'auth' | 'network',
  ) {
    super(message);
    this.name = 'SshConnectError';
  }
}

/** Maps a failed connect to the AppError an HTTP caller gets. */
export function sshAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof SshConnectError) {
    if (err.kind === 'host_key') return new AppError('CONFLICT', err.message);
    return new AppError('SERVICE_UNAVAILABLE', err.message);
  }
  return new AppError('SERVICE_UNAVAILABLE', `SSH connection failed: ${(err as Error)?.message ?? err}`);
}

/**
 * Connects and authenticates. On the first successful connect to this host:port the host key's
 * fingerprint is recorded; later connects must present the same key.
 */
export function connectSsh(
  target: SshTarget,
  opts: { readyTimeoutMs?: number } = {},
): Promise<{ client: SshClient; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let seen: string | null = null;
    let mismatch: SshConnectError | null = null;
    let settled = false;
    const fail = (err: SshConnectError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    client.once('ready', async () => {
      if (settled) return;
      try {
        if (!target.trustedFingerprint && seen) await target.recordHostKey(seen);
      } catch (err) {
        client.end();
        settled = true;
        return reject(err);
      }
      settled = true;
      resolve({ client, fingerprint: seen ?? '' });
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (mismatch) return fail(mismatch);
      if (err.level === 'client-authentication') {
        return fail(
          new SshConnectError(`Authentication failed for ${target.username}@${target.host}`, 'auth'),
        );
      }
      if (err.level === 'client-timeout') {
        return fail(new SshConnectError(`Timed out connecting to ${target.host}:${target.port}`, 'network'));
      }
      const code = (err as NodeJS.ErrnoException).code;
      fail(
        new SshConnectError(
          `Could not connect to ${target.host}:${target.port}: ${code ?? err.message}`,
          'network',
        ),
      );
    });
    client.once('close', () => {
      if (mismatch) fail(mismatch);
      else fail(new SshConnectError(`Connection to ${target.host}:${target.port} closed`, 'network'));
    });
    const hasKey = target.privateKey !== undefined;
    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        readyTimeout: opts.readyTimeoutMs ?? 15_000,
        keepaliveInterval: 30_000,
        ...(target.password !== undefined && { password: target.password }),
        ...(hasKey && { privateKey: target.privateKey }),
        ...(hasKey && target.passphrase !== undefined && { passphrase: target.passphrase }),
        hostVerifier: (key: Buffer) => {
          seen = fingerprintOf(key);
          if (target.trustedFingerprint && target.trustedFingerprint !== seen) {
            mismatch = new SshConnectError(
              `Host key changed for ${target.host}: expected ${target.trustedFingerprint}, got ${seen}`,
              'host_key',
            );
            return false;
          }
          return true;
        },
      });
    } catch (err) {
      fail(new SshConnectError(`SSH connection failed: ${(err as Error).message}`, 'network'));
    }
  });
}

export type { SshClient };
