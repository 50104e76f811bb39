import { z } from 'zod';
import { ZHost, ZPort } from '../connections/types';

// The VOD storage form (seed 002 "VOD Storage"). Every field is optional on PUT: fields sent
// replace, `null` clears a secret, fields not sent (secrets included) are kept.

const secret = (max: number, description: string) =>
  z.string().min(1).max(max).nullable().meta({ description, writeOnly: true });

export const ZVodStorageInput = z.object({
  host: ZHost.optional().describe('SFTP server hostname'),
  port: ZPort.optional().describe('SSH port (default: 22)'),
  username: z.string().trim().min(1).max(128).optional().describe('SSH username'),
  auth_method: z.enum(['password', 'key']).optional().describe('"password" or "key"'),
  password: secret(1024, 'SSH password (if auth_method=password)').optional(),
  private_key: secret(16_384, 'SSH private key PEM (if auth_method=key)').optional(),
  passphrase: secret(1024, 'Passphrase of the private key').optional(),
  remote_path: z
    .string()
    .trim()
    .min(1)
    .max(1024)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are refused
    .regex(/^[^\u0000-\u001f\u007f]+$/)
    .optional()
    .describe('Path to VOD directory on remote server (absolute, or relative to the login directory)'),
});
export type VodStorageInput = z.infer<typeof ZVodStorageInput>;

export const ZVodStorageView = z.object({
  host: z.string(),
  port: z.number(),
  username: z.string(),
  auth_method: z.enum(['password', 'key']),
  remote_path: z.string(),
  has_password: z.boolean(),
  has_key: z.boolean(),
  has_passphrase: z.boolean(),
  host_key_fingerprint: z
    .string()
    .nullable()
    .describe('SHA256 fingerprint of the host key trusted on first connect (null before it)'),
  updated_at: z.string().describe('ISO 8601 UTC'),
});
export type VodStorageView = z.infer<typeof ZVodStorageView>;

export const VOD_SORTS = ['name', 'size', 'modified'] as const;
export const ZVodFile = z.object({
  name: z.string().describe('Path below the VOD directory: StreamName/YYYY-MM-DD_HH-MM-SS/chunk_NNN.mkv'),
  size: z.number(),
  modified: z.number().describe('Unix epoch seconds'),
});
export type VodFile = z.infer<typeof ZVodFile>;
