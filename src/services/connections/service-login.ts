import { eq } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { services } from '../../db/schema';
import { type SshTarget, sshTargetOf } from '../sftp/ssh-session';
import {
  mergeConfig,
  openConfig,
  type PlainConfig,
  redactConfig,
  sealConfig,
  validateEndpoint,
} from './config';
import type { ServiceRow } from './shared-services';

// How an `ssh` service logs in (decisions.md 2026-12-02): the admin stores one login with the
// service (`service create|update --ssh-user … --ssh-password …|--ssh-key-file …`), checked by the
// same schema as an ssh connection and sealed the same way (AES-256-GCM); users who can see the
// service use it without ever reading it. The host key is trusted on first use, as for connections.

export type ServiceLoginInput = Record<string, unknown> | null | undefined;

/**
 * The stored config after a create (`current` empty) or an update: fields merge as on
 * PUT /api/connections (null clears one, `login: null` clears all), then the whole login is
 * validated for the service's host and port. Only ssh services have a login.
 */
export function nextServiceConfig(
  box: SecretBox,
  target: { plugin: string; host: string; port: number },
  stored: PlainConfig,
  login: ServiceLoginInput,
): PlainConfig {
  if (login === undefined) return stored;
  if (login === null) return {};
  if (target.plugin !== 'ssh') throw new AppError('BAD_REQUEST', 'login is only used by ssh services');
  const merged = mergeConfig(openConfig(box, 'ssh', stored), login);
  try {
    const endpoint = validateEndpoint('ssh', { host: target.host, port: target.port, config: merged });
    return sealConfig(box, 'ssh', endpoint.config);
  } catch (err) {
    // The same checks as a connection's config; the admin input calls it `login`.
    if (err instanceof AppError)
      throw new AppError('BAD_REQUEST', err.message.replace(/^config\./, 'login.'));
    throw err;
  }
}

/** What admins see of a login: the user name and `has_<secret>` flags, or null. */
export const serviceLoginView = (row: ServiceRow) =>
  row.plugin === 'ssh' && typeof row.config.username === 'string' ? redactConfig('ssh', row.config) : null;

/** The SSH target of a service users connect to; a service without a login cannot be opened. */
export function serviceSshTarget(db: Db, box: SecretBox, row: ServiceRow): SshTarget {
  if (typeof row.config.username !== 'string')
    throw new AppError('BAD_REQUEST', 'This SSH service has no login configured');
  return sshTargetOf({
    id: `service:${row.id}`,
    host: row.host,
    port: row.port,
    config: openConfig(box, 'ssh', row.config),
    hostKey: { fingerprint: row.hostKeyFingerprint, endpoint: row.hostKeyEndpoint },
    record: async (set) => {
      await db.update(services).set(set).where(eq(services.id, row.id));
    },
  });
}
