import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_PEM_CHARS } from '../../services/certificates/pem';

// Inputs of the certificate procedures (admin router and CLI only: API.md §0/§8).

const HOSTNAME =
  /^(?=.{1,253}$)(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS name (a leading `*.` allowed) or an IP address, for self-signed certificates. */
const ZHost = z
  .string()
  .trim()
  .toLowerCase()
  .refine((d) => isIP(d) !== 0 || HOSTNAME.test(d), 'Each domain must be a host name or an IP address');

/** ACME orders over HTTP-01: plain DNS names only (no IP, no wildcard). */
const ZAcmeHost = z
  .string()
  .trim()
  .toLowerCase()
  .refine((d) => isIP(d) === 0 && HOSTNAME.test(d) && !d.startsWith('*.') && d.includes('.'), {
    message: 'Each domain must be a public DNS name (no IP address, no wildcard: HTTP-01 cannot prove those)',
  });

const ZName = z.string().trim().min(1).max(100);
export const ZCertificateId = z.object({ id: z.number().int().positive() });

export const ZUploadCertificateInput = z.object({
  certificate: z.string().min(1).max(MAX_PEM_CHARS),
  key: z.string().min(1).max(MAX_PEM_CHARS),
  passphrase: z.string().max(1024).optional(),
  name: ZName.optional(),
  activate: z.boolean().default(false),
});

export const ZSelfSignedInput = z.object({
  domains: z.array(ZHost).min(1).max(100),
  days: z.number().int().min(1).max(3650).default(365),
  name: ZName.optional(),
  activate: z.boolean().default(false),
});

export const ZAcmeIssueInput = z.object({
  domains: z.array(ZAcmeHost).min(1).max(100),
  email: z.email().max(254).optional(),
  agreeTos: z.boolean().default(false),
  directoryUrl: z.url({ protocol: /^https$/ }).optional(),
  activate: z.boolean().default(true),
});

export const ZAcmeOrdersInput = z
  .object({ limit: z.number().int().min(1).max(100).default(20) })
  .default({ limit: 20 });
