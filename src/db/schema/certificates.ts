import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, serial, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from './columns';

/**
 * TLS certificates managed by operators (seed 002 "Certificate Management"): uploaded, generated
 * self-signed, or issued over ACME. The chain is public; the private key is sealed. At most one
 * is active: the one Portal serves on TLS_PORT and exports to DATA_DIR/certs.
 */
export const tlsCertificates = pgTable(
  'tls_certificates',
  {
    id: serial('id').primaryKey(),
    name: text('name').notNull(),
    /** `upload`, `self_signed` or `acme`. */
    source: text('source').notNull(),
    /** Leaf first, then intermediates (PEM). */
    certificatePem: text('certificate_pem').notNull(),
    privateKey: text('private_key').notNull(),
    commonName: text('common_name'),
    /** Subject alternative names: `DNS:…` and `IP:…` entries as written in the certificate. */
    domains: jsonb('domains').$type<string[]>().notNull(),
    issuer: text('issuer').notNull(),
    serialNumber: text('serial_number').notNull(),
    fingerprintSha256: text('fingerprint_sha256').notNull(),
    notBefore: ts('not_before').notNull(),
    notAfter: ts('not_after').notNull(),
    isActive: boolean('is_active').notNull().default(false),
    /** ACME certificates: the account that ordered it, so renewal can use it again. */
    acmeAccountId: integer('acme_account_id').references(() => acmeAccounts.id, { onDelete: 'set null' }),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('tls_certificates_one_active').on(t.isActive).where(sql`${t.isActive}`)],
);

/** ACME accounts, one per directory URL and contact e-mail; the account key is sealed. */
export const acmeAccounts = pgTable(
  'acme_accounts',
  {
    id: serial('id').primaryKey(),
    directoryUrl: text('directory_url').notNull(),
    email: text('email').notNull().default(''),
    accountKey: text('account_key').notNull(),
    accountUrl: text('account_url'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('acme_accounts_directory_email').on(t.directoryUrl, t.email)],
);

/** Every issuance attempt, so an operator can see why one failed. */
export const acmeOrders = pgTable(
  'acme_orders',
  {
    id: serial('id').primaryKey(),
    accountId: integer('account_id').references(() => acmeAccounts.id, { onDelete: 'set null' }),
    domains: jsonb('domains').$type<string[]>().notNull(),
    /** `pending`, `valid` or `invalid`. */
    status: text('status').notNull(),
    error: text('error'),
    certificateId: integer('certificate_id').references(() => tlsCertificates.id, { onDelete: 'set null' }),
    renewal: boolean('renewal').notNull().default(false),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
  },
  (t) => [index('acme_orders_created_idx').on(t.createdAt)],
);

/**
 * Pending HTTP-01 challenges: `GET /.well-known/acme-challenge/{token}` answers with the key
 * authorisation from here, so whichever node the CA reaches can answer.
 */
export const acmeChallenges = pgTable('acme_challenges', {
  token: text('token').primaryKey(),
  keyAuthorization: text('key_authorization').notNull(),
  domain: text('domain').notNull(),
  orderId: integer('order_id').references(() => acmeOrders.id, { onDelete: 'cascade' }),
  expiresAt: ts('expires_at').notNull(),
});
