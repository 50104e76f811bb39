import { desc, eq } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { tlsCertificates } from '../../db/schema';
import type { AdminActor } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { inspectPair } from './pem';

// Stored certificates (admin router and CLI, API.md §8): the checked chain in the clear, the key
// sealed with the SecretBox; listings never carry the key. One certificate at most is active.

export type CertificateSource = 'upload' | 'self_signed' | 'acme';
type Row = typeof tlsCertificates.$inferSelect;

const DAY_MS = 86_400_000;

export function certificateView(row: Row, now = new Date()) {
  return {
    id: row.id,
    name: row.name,
    source: row.source as CertificateSource,
    common_name: row.commonName,
    domains: row.domains,
    issuer: row.issuer,
    serial_number: row.serialNumber,
    fingerprint_sha256: row.fingerprintSha256,
    not_before: row.notBefore.toISOString(),
    not_after: row.notAfter.toISOString(),
    days_left: Math.floor((row.notAfter.getTime() - now.getTime()) / DAY_MS),
    expired: row.notAfter.getTime() <= now.getTime(),
    is_active: row.isActive,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
  };
}

async function requireCertificate(db: Db, id: number) {
  const [row] = await db.select().from(tlsCertificates).where(eq(tlsCertificates.id, id));
  if (!row) throw new AppError('NOT_FOUND', 'Certificate not found');
  return row;
}

async function markActive(tx: Db, id: number) {
  await tx.update(tlsCertificates).set({ isActive: false }).where(eq(tlsCertificates.isActive, true));
  await tx.update(tlsCertificates).set({ isActive: true }).where(eq(tlsCertificates.id, id));
}

/** Checks and stores a pair (uploaded, generated or issued); `activate` makes it the served one. */
export async function storeCertificate(opts: {
  db: Db;
  box: SecretBox;
  actor: AdminActor | 'system';
  name?: string | undefined;
  source: CertificateSource;
  certificate: string;
  key: string;
  passphrase?: string | undefined;
  activate?: boolean | undefined;
  acmeAccountId?: number | null;
}) {
  const { facts, keyPem } = inspectPair(opts);
  const actor = opts.actor === 'system' ? { userId: null, label: 'system' } : auditActorOf(opts.actor);
  const row = await opts.db.transaction(async (tx) => {
    const [inserted] = await tx
      .insert(tlsCertificates)
      .values({
        name: opts.name ?? facts.commonName ?? facts.domains[0]!.replace(/^(DNS|IP):/, ''),
        source: opts.source,
        certificatePem: facts.chainPem,
        privateKey: opts.box.encrypt(keyPem),
        commonName: facts.commonName,
        domains: facts.domains,
        issuer: facts.issuer,
        serialNumber: facts.serialNumber,
        fingerprintSha256: facts.fingerprintSha256,
        notBefore: facts.notBefore,
        notAfter: facts.notAfter,
        acmeAccountId: opts.acmeAccountId ?? null,
        createdBy: actor.label,
      })
      .returning();
    if (opts.activate) await markActive(tx, inserted!.id);
    await writeAudit(tx, {
      actor,
      action: `certificate.${opts.source === 'upload' ? 'upload' : opts.source === 'acme' ? 'issue' : 'generate'}`,
      targetType: 'certificate',
      targetId: inserted!.id,
      details: {
        domains: facts.domains,
        not_after: facts.notAfter.toISOString(),
        activated: opts.activate ?? false,
      },
    });
    return { ...inserted!, isActive: opts.activate ?? false };
  });
  return certificateView(row);
}

export async function listCertificates(db: Db) {
  const rows = await db.select().from(tlsCertificates).orderBy(desc(tlsCertificates.id));
  return { certificates: rows.map((r) => certificateView(r)) };
}

/** One certificate with its chain (public); never the key. */
export async function showCertificate(db: Db, id: number) {
  const row = await requireCertificate(db, id);
  return { ...certificateView(row), certificate_pem: row.certificatePem };
}

export async function activateCertificate(opts: { db: Db; actor: AdminActor; id: number }) {
  return opts.db.transaction(async (tx) => {
    const row = await requireCertificate(tx, opts.id);
    if (row.notAfter.getTime() <= Date.now())
      throw new AppError('BAD_REQUEST', `The certificate expired on ${row.notAfter.toISOString()}`);
    await markActive(tx, row.id);
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'certificate.activate',
      targetType: 'certificate',
      targetId: row.id,
    });
    return certificateView({ ...row, isActive: true });
  });
}

export async function deleteCertificate(opts: { db: Db; actor: AdminActor; id: number }) {
  return opts.db.transaction(async (tx) => {
    const row = await requireCertificate(tx, opts.id);
    if (row.isActive)
      throw new AppError('CONFLICT', 'This certificate is in use: activate another one before deleting it');
    await tx.delete(tlsCertificates).where(eq(tlsCertificates.id, row.id));
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'certificate.delete',
      targetType: 'certificate',
      targetId: row.id,
      details: { domains: row.domains },
    });
    return { success: true as const, id: row.id };
  });
}

/** The served pair, key unsealed (servers only). */
export async function loadActiveCertificate(db: Db, box: SecretBox) {
  const [row] = await db.select().from(tlsCertificates).where(eq(tlsCertificates.isActive, true));
  if (!row) return null;
  return {
    id: row.id,
    fingerprint: row.fingerprintSha256,
    certificate: row.certificatePem,
    key: box.decrypt(row.privateKey),
  };
}
