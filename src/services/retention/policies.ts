import { eq } from 'drizzle-orm';
import type { Env } from '../../core/env';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { retentionPolicies } from '../../db/schema';
import type { AdminActor } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { isRetentionKind, RETENTION_KIND_NAMES, RETENTION_KINDS, type RetentionKindName } from './kinds';

// Retention policies live in the database (one row per kind an operator changed), so every node
// and the CLI agree on them; a kind without a row keeps its default (CHAT_RETENTION_DAYS,
// WEBHOOK_LOG_RETENTION_DAYS, or the built-in days of kinds.ts).

export const MAX_RETENTION_DAYS = 36_500;

export type Policy = {
  kind: RetentionKindName;
  enabled: boolean;
  days: number;
  source: 'default' | 'setting';
  description: string;
  updated_at: string | null;
  updated_by: string | null;
};

export function requireKind(kind: string): RetentionKindName {
  if (!isRetentionKind(kind))
    throw new AppError('BAD_REQUEST', `Unknown retention kind: ${kind}`, { known: RETENTION_KIND_NAMES });
  return kind;
}

export async function listRetentionPolicies(opts: { db: Db; env: Env }): Promise<Policy[]> {
  const rows = new Map((await opts.db.select().from(retentionPolicies)).map((r) => [r.kind, r]));
  return RETENTION_KIND_NAMES.map((kind) => {
    const row = rows.get(kind);
    const defaults = RETENTION_KINDS[kind].defaults(opts.env);
    return {
      kind,
      enabled: row?.enabled ?? defaults.enabled,
      days: row?.days ?? defaults.days,
      source: row ? 'setting' : 'default',
      description: RETENTION_KINDS[kind].description,
      updated_at: row?.updatedAt.toISOString() ?? null,
      updated_by: row?.updatedBy ?? null,
    };
  });
}

/** `retention set <kind> [--days n] [--enabled|--disabled]`: what is not given stays as it was. */
export async function setRetentionPolicy(opts: {
  db: Db;
  env: Env;
  actor: AdminActor;
  kind: string;
  days?: number | undefined;
  enabled?: boolean | undefined;
}) {
  const kind = requireKind(opts.kind);
  if (opts.days === undefined && opts.enabled === undefined)
    throw new AppError('BAD_REQUEST', 'Give days, enabled or both');
  const current = (await listRetentionPolicies(opts)).find((p) => p.kind === kind)!;
  const next = { enabled: opts.enabled ?? current.enabled, days: opts.days ?? current.days };
  const actor = auditActorOf(opts.actor);
  await opts.db.transaction(async (tx) => {
    await tx
      .insert(retentionPolicies)
      .values({ kind, ...next, updatedBy: actor.label })
      .onConflictDoUpdate({
        target: retentionPolicies.kind,
        set: { ...next, updatedBy: actor.label, updatedAt: new Date() },
      });
    await writeAudit(tx, {
      actor,
      action: 'retention.set',
      targetType: 'retention_policy',
      targetId: kind,
      details: { ...next, previous: { enabled: current.enabled, days: current.days } },
    });
  });
  return (await listRetentionPolicies(opts)).find((p) => p.kind === kind)!;
}

/** Back to the default of the kind. */
export async function resetRetentionPolicy(opts: { db: Db; env: Env; actor: AdminActor; kind: string }) {
  const kind = requireKind(opts.kind);
  await opts.db.transaction(async (tx) => {
    const removed = await tx.delete(retentionPolicies).where(eq(retentionPolicies.kind, kind)).returning();
    if (removed.length > 0)
      await writeAudit(tx, {
        actor: auditActorOf(opts.actor),
        action: 'retention.reset',
        targetType: 'retention_policy',
        targetId: kind,
      });
  });
  return (await listRetentionPolicies(opts)).find((p) => p.kind === kind)!;
}
