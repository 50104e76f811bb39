import { and, eq, lt } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Env } from '../../core/env';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { acmeAccounts, tlsCertificates } from '../../db/schema';
import { withLease } from '../jobs/lease';
import { deleteStaleChallenges, issueAcmeCertificate } from './acme';

// Let's Encrypt certificates last 90 days: the active ACME certificate is ordered again once fewer
// than ACME_RENEW_DAYS remain, with the same account and names, and the new one becomes active.
// Every node ticks; the `certificate-renewal` lease lets one of them work.

const TICK_MS = 6 * 60 * 60_000;
const LEASE_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

export async function renewDueCertificates(opts: {
  db: Db;
  box: SecretBox;
  env: Env;
  log: Logger;
  now?: Date;
}) {
  await deleteStaleChallenges(opts.db);
  const horizon = new Date((opts.now ?? new Date()).getTime() + opts.env.ACME_RENEW_DAYS * DAY_MS);
  const due = await opts.db
    .select({ cert: tlsCertificates, account: acmeAccounts })
    .from(tlsCertificates)
    .innerJoin(acmeAccounts, eq(acmeAccounts.id, tlsCertificates.acmeAccountId))
    .where(
      and(
        eq(tlsCertificates.isActive, true),
        eq(tlsCertificates.source, 'acme'),
        lt(tlsCertificates.notAfter, horizon),
      ),
    );
  const renewed: number[] = [];
  for (const { cert, account } of due) {
    const domains = cert.domains.map((d) => d.replace(/^DNS:/, ''));
    try {
      const result = await issueAcmeCertificate({
        ...opts,
        actor: 'system',
        domains,
        email: account.email || undefined,
        agreeTos: true,
        directoryUrl: account.directoryUrl,
        activate: true,
        renewal: true,
      });
      renewed.push(result.certificate.id);
    } catch (err) {
      opts.log.warn({ err, certificate_id: cert.id, domains }, 'certificate renewal failed; will try again');
    }
  }
  return { renewed };
}

export function startCertificateRenewal(opts: { db: Db; box: SecretBox; env: Env; log: Logger }) {
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = running.then(() =>
      withLease(opts.db, 'certificate-renewal', LEASE_MS, () => renewDueCertificates(opts)).catch((err) =>
        opts.log.warn({ err }, 'certificate renewal round failed'),
      ),
    );
  };
  const first = setTimeout(tick, 30_000);
  first.unref();
  const timer = setInterval(tick, TICK_MS);
  timer.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
