import { asc, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { services } from '../../db/schema';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import type { ServiceRow } from '../connections/shared-services';
import { type AdminActor, inTransaction } from './hierarchy';

// Services of API.md §6 are configured by admins (router `admin.services`, CLI `service ...`);
// every change is audit-logged.

export type ServiceFields = {
  name: string;
  plugin: string;
  host: string;
  port: number;
  path?: string | null | undefined;
  icon?: string | null | undefined;
  category?: string | null | undefined;
  scopes?: string | undefined;
  enabled?: boolean | undefined;
};

/** Everything, backend address included: only admins see this. */
export const adminServiceView = (row: ServiceRow) => ({
  id: row.id,
  name: row.name,
  plugin: row.plugin,
  host: row.host,
  port: row.port,
  path: row.path,
  icon: row.icon,
  category: row.category,
  scopes: row.scopes,
  enabled: row.enabled,
  created_at: row.createdAt.toISOString(),
});

export function adminCreateService(opts: { db: Db; actor: AdminActor } & ServiceFields) {
  const { db, actor, ...fields } = opts;
  return inTransaction(db, async (tx) => {
    const [row] = await tx.insert(services).values(fields).returning();
    const view = adminServiceView(row!);
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action: 'service.create',
      targetType: 'service',
      targetId: view.id,
      details: { ...view },
    });
    return view;
  });
}

export function adminUpdateService(opts: { db: Db; actor: AdminActor; id: number } & Partial<ServiceFields>) {
  const { db, actor, id, ...fields } = opts;
  const set = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  return inTransaction(db, async (tx) => {
    const [row] =
      Object.keys(set).length > 0
        ? await tx.update(services).set(set).where(eq(services.id, id)).returning()
        : await tx.select().from(services).where(eq(services.id, id));
    if (!row) throw new AppError('NOT_FOUND', 'Service not found');
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action: 'service.update',
      targetType: 'service',
      targetId: id,
      details: set,
    });
    return adminServiceView(row);
  });
}

export function adminDeleteService(opts: { db: Db; actor: AdminActor; id: number }) {
  return inTransaction(opts.db, async (tx) => {
    const [row] = await tx.delete(services).where(eq(services.id, opts.id)).returning();
    if (!row) throw new AppError('NOT_FOUND', 'Service not found');
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'service.delete',
      targetType: 'service',
      targetId: opts.id,
      details: { name: row.name },
    });
    return { id: opts.id, deleted: true as const };
  });
}

export async function adminListServices(db: Db) {
  const rows = await db.select().from(services).orderBy(asc(services.id));
  return { services: rows.map(adminServiceView) };
}
