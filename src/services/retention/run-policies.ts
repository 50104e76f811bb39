import type { Env } from '../../core/env';
import { AppError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import type { AdminActor } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { withLease } from '../jobs/lease';
import { RETENTION_BATCH, RETENTION_SWEEP_MS, startSweeps } from './batches';
import type { RetentionUploads } from './chat-messages';
import { cutoffFor, RETENTION_KINDS, type RetentionKindName } from './kinds';
import { listRetentionPolicies, requireKind } from './policies';

// Applies every enabled retention policy: on a schedule on every node (one node at a time, under
// the `retention` lease), or on demand from the admin router. A dry run counts with the same
// predicates and touches nothing. Progress goes to the logs: a line per kind, and while a big
// backlog drains, a running total at most every few seconds.

export const RETENTION_LEASE = 'retention';
const LEASE_TTL_MS = 60_000;
const PROGRESS_EVERY_MS = 5_000;

export type RetentionRunOptions = {
  db: Db;
  env: Env;
  log: Logger;
  dryRun?: boolean;
  /** Only this kind (default: every kind). */
  kind?: string | undefined;
  now?: Date;
  batch?: number;
  shouldStop?: () => boolean;
  uploads?: RetentionUploads;
};

export type KindReport = {
  kind: RetentionKindName;
  enabled: boolean;
  days: number;
  cutoff: string;
  /** Rows deleted (or, in a dry run, that a run would delete), per table; null when disabled. */
  rows: Record<string, number> | null;
  total: number;
};

export async function applyRetentionPolicies(opts: RetentionRunOptions) {
  const now = opts.now ?? new Date();
  const batch = opts.batch ?? RETENTION_BATCH;
  const only = opts.kind === undefined ? undefined : requireKind(opts.kind);
  const policies = (await listRetentionPolicies(opts)).filter((p) => only === undefined || p.kind === only);
  const reports: KindReport[] = [];
  for (const policy of policies) {
    const kind = RETENTION_KINDS[policy.kind];
    const cutoff = cutoffFor(now, policy.days);
    const report: KindReport = {
      kind: policy.kind,
      enabled: policy.enabled,
      days: policy.days,
      cutoff: cutoff.toISOString(),
      rows: null,
      total: 0,
    };
    reports.push(report);
    if (!policy.enabled) continue;
    if (opts.dryRun) {
      report.rows = await kind.count(opts.db, cutoff);
    } else {
      const progress = progressLog(opts.log, policy.kind);
      report.rows = await kind.sweep({
        db: opts.db,
        days: policy.days,
        now,
        cutoff,
        batch,
        shouldStop: opts.shouldStop ?? (() => false),
        onBatch: progress,
        log: opts.log,
        ...(opts.uploads && { uploads: opts.uploads }),
      });
    }
    report.total = Object.values(report.rows).reduce((a, b) => a + b, 0);
    if (!opts.dryRun && report.total > 0)
      opts.log.info(
        { kind: policy.kind, days: policy.days, rows: report.rows },
        'retention: expired rows deleted',
      );
  }
  return { dry_run: opts.dryRun ?? false, ran_at: now.toISOString(), policies: reports };
}

function progressLog(log: Logger, kind: string) {
  let total = 0;
  let lastLogged = Date.now();
  return (table: string, deleted: number) => {
    total += deleted;
    log.debug({ kind, table, deleted }, 'retention batch deleted');
    if (Date.now() - lastLogged >= PROGRESS_EVERY_MS) {
      lastLogged = Date.now();
      log.info({ kind, table, deleted_so_far: total }, 'retention in progress');
    }
  };
}

/**
 * `retention run [--dry-run] [--kind k]` from the admin router. A real run takes the cluster's
 * retention lease (409 while the scheduled job holds it elsewhere) and is audited.
 */
export async function runRetentionNow(opts: RetentionRunOptions & { actor: AdminActor }) {
  if (opts.kind !== undefined) requireKind(opts.kind);
  if (opts.dryRun) return applyRetentionPolicies(opts);
  const ran = await withLease(opts.db, RETENTION_LEASE, LEASE_TTL_MS, (lost) =>
    applyRetentionPolicies({ ...opts, shouldStop: lost }),
  );
  if (!ran) throw new AppError('CONFLICT', 'A retention run is already in progress');
  await writeAudit(opts.db, {
    actor: auditActorOf(opts.actor),
    action: 'retention.run',
    details: Object.fromEntries(ran.value.policies.filter((p) => p.rows).map((p) => [p.kind, p.total])),
  });
  return ran.value;
}

/** The scheduled job: every node ticks, the lease lets one of them work at a time. */
export function startRetentionJob(
  opts: Omit<RetentionRunOptions, 'dryRun' | 'kind'> & { intervalMs?: number },
) {
  return startSweeps({
    log: opts.log,
    what: 'scheduled',
    intervalMs: opts.intervalMs ?? RETENTION_SWEEP_MS,
    sweep: async (stopped) => {
      const ran = await withLease(opts.db, RETENTION_LEASE, LEASE_TTL_MS, (lost) =>
        applyRetentionPolicies({ ...opts, shouldStop: () => stopped() || lost() }),
      );
      if (!ran) opts.log.debug('retention: another node holds the lease');
    },
  });
}
