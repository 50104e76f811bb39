import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import type { AdminActor } from '../admin/hierarchy';
import { generateSelfSigned } from './self-signed';
import { storeCertificate } from './store';

/** `certs self-signed`: generates a pair for the names and stores it like an upload. */
export async function generateSelfSignedCertificate(opts: {
  db: Db;
  box: SecretBox;
  actor: AdminActor;
  domains: string[];
  days: number;
  name?: string | undefined;
  activate?: boolean;
}) {
  const pair = await generateSelfSigned({ domains: [...new Set(opts.domains)], days: opts.days });
  return storeCertificate({ ...opts, ...pair, source: 'self_signed' });
}
