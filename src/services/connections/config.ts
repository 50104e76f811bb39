import ssh2 from 'ssh2';
import type { z } from 'zod';
import type { SecretBox } from '../../core/crypto';
import { AppError, describeZodIssue } from '../../core/errors';
import { CONNECTION_TYPES, type ConnectionTypeName } from './types';

// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
const { utils } = ssh2;

// How a connection's config is checked, sealed at rest, opened for use and redacted for reads.

export type PlainConfig = Record<string, unknown>;

export type Endpoint = { host: string; port: number; config: PlainConfig };

/**
 * Validates host, port and config together against the type's form schema. Messages name the
 * first invalid field as the request body has it (`port`, `config.username`).
 */
export function validateEndpoint(
  type: ConnectionTypeName,
  input: { host: string; port: number | undefined; config: PlainConfig },
): Endpoint {
  const t = CONNECTION_TYPES[type];
  const { host: _h, port: _p, ...rest } = input.config;
  const port = input.port ?? t.default_port ?? undefined;
  const parsed = t.schema.safeParse({ ...rest, host: input.host, port });
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const top = issue.path[0];
    const path =
      top === 'host' || top === 'port' || top === undefined ? issue.path : ['config', ...issue.path];
    throw new AppError('BAD_REQUEST', describeZodIssue({ ...issue, path } as z.core.$ZodIssue));
  }
  const { host, port: checkedPort, ...config } = parsed.data as PlainConfig & { host: string; port: number };
  if (typeof config.private_key === 'string') {
    const passphrase = typeof config.passphrase === 'string' ? config.passphrase : undefined;
    if (!parsePrivateKey(config.private_key, passphrase)) {
      throw new AppError(
        'BAD_REQUEST',
        'config.private_key is not a readable private key (or the passphrase is wrong)',
      );
    }
  }
  return { host, port: checkedPort, config };
}

export function parsePrivateKey(privateKey: string, passphrase: string | undefined) {
  try {
    const parsed = utils.parseKey(privateKey, passphrase);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error || !key.isPrivateKey()) return null;
    return key;
  } catch {
    return null;
  }
}

/** `ssh-ed25519 AAAA...` of a stored private key, or undefined when there is none. */
export function publicKeyOf(config: PlainConfig): string | undefined {
  if (typeof config.private_key !== 'string') return undefined;
  const passphrase = typeof config.passphrase === 'string' ? config.passphrase : undefined;
  const key = parsePrivateKey(config.private_key, passphrase);
  return key ? `${key.type} ${key.getPublicSSH().toString('base64')}` : undefined;
}

/** Secret fields become sealed strings (AES-256-GCM with key id); the rest is stored as is. */
export function sealConfig(box: SecretBox, type: ConnectionTypeName, config: PlainConfig): PlainConfig {
  const out: PlainConfig = { ...config };
  for (const field of CONNECTION_TYPES[type].secrets) {
    if (typeof out[field] === 'string') out[field] = box.encrypt(out[field]);
  }
  return out;
}

export function openConfig(box: SecretBox, type: ConnectionTypeName, stored: PlainConfig): PlainConfig {
  const out: PlainConfig = { ...stored };
  for (const field of CONNECTION_TYPES[type].secrets) {
    if (typeof out[field] === 'string') out[field] = box.decrypt(out[field]);
  }
  return out;
}

/** What reads show: every secret field replaced by `has_<field>`. */
export function redactConfig(type: ConnectionTypeName, stored: PlainConfig): PlainConfig {
  const out: PlainConfig = { ...stored };
  for (const field of CONNECTION_TYPES[type].secrets) {
    out[`has_${field}`] = typeof out[field] === 'string';
    delete out[field];
  }
  return out;
}

/** PUT semantics: fields sent replace, `null` clears, fields not sent (secrets included) stay. */
export function mergeConfig(current: PlainConfig, patch: Record<string, unknown>): PlainConfig {
  const out: PlainConfig = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('has_')) continue;
    if (value === null) delete out[key];
    else out[key] = value;
  }
  return out;
}
