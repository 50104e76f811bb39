import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { and, desc, eq, gt, lt } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Env } from '../../core/env';
import { AppError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { acmeAccounts, acmeChallenges, acmeOrders } from '../../db/schema';
import type { AdminActor } from '../admin/hierarchy';
import { storeCertificate } from './store';

// ACME issuance (Let's Encrypt by default) with acme-client: the account is created once per
// directory and e-mail and kept (key sealed); each order is recorded with its outcome; HTTP-01
// challenges are stored in the database and answered by whichever node the CA reaches, at
// GET /.well-known/acme-challenge/{token} (rest/handlers/acme-challenge.ts). The CA must reach this
// host on port 80 under every name ordered (docs/certificates.md). Portal does not pre-check its own
// reachability (a NAT rarely lets a host reach itself by its public name); the CA's verdict is what
// the order records.

const CHALLENGE_TTL_MS = 60 * 60_000;

/** acme-client (and axios under it) is loaded with the first ACME operation, not at every start. */
type AcmeClient = typeof import('acme-client');
let loading: Promise<AcmeClient> | undefined;
const loadAcme = () => (loading ??= import('acme-client'));

let configuredCa: string | undefined;
let configuredLog: Logger | undefined;

/** acme-client's HTTP client is one per process: its trust store and its log are set here. */
function configureAcme(acme: AcmeClient, env: Env, log: Logger) {
  if (env.ACME_CA_FILE && configuredCa !== env.ACME_CA_FILE) {
    acme.axios.defaults.httpsAgent = new Agent({ ca: readFileSync(env.ACME_CA_FILE) });
    configuredCa = env.ACME_CA_FILE;
  }
  if (!configuredLog) {
    configuredLog = log;
    acme.setLogger((message: string) => configuredLog?.debug({ component: 'acme' }, message));
  }
}

async function accountFor(
  db: Db,
  box: SecretBox,
  directoryUrl: string,
  email: string,
): Promise<typeof acmeAccounts.$inferSelect> {
  const [existing] = await db
    .select()
    .from(acmeAccounts)
    .where(and(eq(acmeAccounts.directoryUrl, directoryUrl), eq(acmeAccounts.email, email)));
  if (existing) return existing;
  const acme = await loadAcme();
  const key = (await acme.crypto.createPrivateEcdsaKey()).toString();
  const [created] = await db
    .insert(acmeAccounts)
    .values({ directoryUrl, email, accountKey: box.encrypt(key) })
    .onConflictDoNothing()
    .returning();
  // Two issuances racing for a new account: the other one's row wins.
  return created ?? (await accountFor(db, box, directoryUrl, email));
}

const describeAcmeError = (err: unknown) => {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
};

export type IssueOptions = {
  db: Db;
  box: SecretBox;
  env: Env;
  log: Logger;
  actor: AdminActor | 'system';
  domains: string[];
  email?: string | undefined;
  agreeTos: boolean;
  directoryUrl?: string | undefined;
  activate?: boolean | undefined;
  renewal?: boolean;
};

/** Runs the whole order (account, authorisations, HTTP-01, finalise, download) and stores the result. */
export async function issueAcmeCertificate(opts: IssueOptions) {
  if (!opts.agreeTos)
    throw new AppError(
      'BAD_REQUEST',
      "Issuing needs agreeing to the ACME server's terms of service (--agree-tos)",
    );
  const acme = await loadAcme();
  configureAcme(acme, opts.env, opts.log);
  const directoryUrl = opts.directoryUrl ?? opts.env.ACME_DIRECTORY_URL;
  const email = opts.email ?? '';
  const account = await accountFor(opts.db, opts.box, directoryUrl, email);
  const createdBy =
    opts.actor === 'system' ? 'system' : opts.actor.kind === 'system' ? 'system' : opts.actor.username;
  const [order] = await opts.db
    .insert(acmeOrders)
    .values({
      accountId: account.id,
      domains: opts.domains,
      status: 'pending',
      renewal: opts.renewal ?? false,
      createdBy,
    })
    .returning();
  const client = new acme.Client({
    directoryUrl,
    accountKey: opts.box.decrypt(account.accountKey),
    ...(account.accountUrl && { accountUrl: account.accountUrl }),
    backoffMin: 1000,
    backoffMax: 10_000,
  });
  const log = opts.log.child({ acme_order: order!.id, domains: opts.domains });
  try {
    const [certKey, csr] = await acme.crypto.createCsr(
      { commonName: opts.domains[0]!, altNames: opts.domains },
      await acme.crypto.createPrivateEcdsaKey(),
    );
    log.info({ directory: directoryUrl }, 'acme: ordering a certificate');
    const chain = await client.auto({
      csr,
      ...(email && { email }),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`unsupported challenge ${challenge.type}`);
        const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS);
        // A token offered again (a retried authorisation) keeps the newest answer.
        await opts.db
          .insert(acmeChallenges)
          .values({
            token: challenge.token,
            keyAuthorization,
            domain: authz.identifier.value,
            orderId: order!.id,
            expiresAt,
          })
          .onConflictDoUpdate({
            target: acmeChallenges.token,
            set: { keyAuthorization, orderId: order!.id, expiresAt },
          });
        log.info({ domain: authz.identifier.value }, 'acme: challenge ready at /.well-known/acme-challenge/');
      },
      challengeRemoveFn: async (_authz, challenge) => {
        await opts.db.delete(acmeChallenges).where(eq(acmeChallenges.token, challenge.token));
      },
    });
    if (!account.accountUrl)
      await opts.db
        .update(acmeAccounts)
        .set({ accountUrl: client.getAccountUrl() })
        .where(eq(acmeAccounts.id, account.id));
    const stored = await storeCertificate({
      db: opts.db,
      box: opts.box,
      actor: opts.actor,
      source: 'acme',
      certificate: chain,
      key: certKey.toString(),
      activate: opts.activate,
      acmeAccountId: account.id,
    });
    await opts.db
      .update(acmeOrders)
      .set({ status: 'valid', certificateId: stored.id, finishedAt: new Date() })
      .where(eq(acmeOrders.id, order!.id));
    log.info({ certificate_id: stored.id, not_after: stored.not_after }, 'acme: certificate issued');
    return { order_id: order!.id, certificate: stored };
  } catch (err) {
    const message = describeAcmeError(err);
    log.warn({ err: message }, 'acme: order failed');
    await opts.db
      .update(acmeOrders)
      .set({ status: 'invalid', error: message, finishedAt: new Date() })
      .where(eq(acmeOrders.id, order!.id));
    await opts.db.delete(acmeChallenges).where(eq(acmeChallenges.orderId, order!.id));
    if (err instanceof AppError) throw err;
    throw new AppError('BAD_GATEWAY', `The ACME order failed: ${message}`, { order_id: order!.id });
  }
}

/** The key authorisation for a pending challenge token, or null. */
export async function challengeAnswer(db: Db, token: string): Promise<string | null> {
  const [row] = await db
    .select({ keyAuthorization: acmeChallenges.keyAuthorization })
    .from(acmeChallenges)
    .where(and(eq(acmeChallenges.token, token), gt(acmeChallenges.expiresAt, new Date())));
  return row?.keyAuthorization ?? null;
}

/** Challenges left behind by a crashed issuance. */
export async function deleteStaleChallenges(db: Db) {
  await db.delete(acmeChallenges).where(lt(acmeChallenges.expiresAt, new Date()));
}

export async function listAcmeOrders(db: Db, limit: number) {
  const rows = await db.select().from(acmeOrders).orderBy(desc(acmeOrders.id)).limit(limit);
  return {
    orders: rows.map((r) => ({
      id: r.id,
      domains: r.domains,
      status: r.status,
      error: r.error,
      certificate_id: r.certificateId,
      renewal: r.renewal,
      created_by: r.createdBy,
      created_at: r.createdAt.toISOString(),
      finished_at: r.finishedAt?.toISOString() ?? null,
    })),
  };
}
