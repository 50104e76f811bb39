import { asc, eq } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { services } from '../../db/schema';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { nextServiceConfig, type ServiceLoginInput, serviceLoginView } from '../connections/service-login';
import type { ServiceRow } from '../connections/shared-services';
import { type AdminActor, inTransaction } from './hierarchy';

// Services of API.md §6 are configured by admins (router `admin.services`, CLI `service ...`);
// every change is audit-logged.

export type ServiceFields = {
  name: string;
  plugin: string;
  host: string;
  port: number;
  login?: ServiceLoginInput;
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
  login: serviceLoginView(row),
  healthy: row.healthy,
  checked_at: row.checkedAt?.toISOString() ?? null,
  created_at: row.createdAt.toISOString(),
});

/** A terminal has no backend address: it runs on the Portal host. */
const TERMINAL_ENDPOINT = { host: 'localhost', port: 0 };

type AdminDeps = { db: Db; box: SecretBox; actor: AdminActor };

export function adminCreateService(
  opts: AdminDeps &
    Omit<ServiceFields, 'host' | 'port'> & { host?: string | undefined; port?: number | undefined },
) {
  const { db, box, actor, login, ...rest } = opts;
  const endpoint =
    rest.plugin === 'terminal' ? TERMINAL_ENDPOINT : { host: rest.host ?? '', port: rest.port ?? 0 };
  const fields = { ...rest, ...endpoint };
  const config = nextServiceConfig(box, fields, {}, login);
  return inTransaction(db, async (tx) => {
    const [row] = await tx
      .insert(services)
      .values({ ...fields, config })
      .returning();
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

export function adminUpdateService(opts: AdminDeps & { id: number } & Partial<ServiceFields>) {
  const { db, box, actor, id, login, ...fields } = opts;
  const set: Partial<typeof services.$inferInsert> = Object.fromEntries(
    Object.entries(fields).filter(([, v]) => v !== undefined),
  );
  return inTransaction(db, async (tx) => {
    const [current] = await tx.select().from(services).where(eq(services.id, id)).for('update');
    if (!current) throw new AppError('NOT_FOUND', 'Service not found');
    const next = { plugin: current.plugin, host: current.host, port: current.port, ...set };
    // A changed plugin keeps no login it cannot use; a changed address keeps it (and the host
    // key check starts afresh, since the key is recorded per host:port).
    const stored = next.plugin === 'ssh' ? current.config : {};
    const config = nextServiceConfig(box, next, stored, login);
    if (config !== current.config) set.config = config;
    const [row] =
      Object.keys(set).length > 0
        ? await tx.update(services).set(set).where(eq(services.id, id)).returning()
        : [current];
    await writeAudit(tx, {
      actor: auditActorOf(actor),
      action: 'service.update',
      targetType: 'service',
      targetId: id,
      // Never the login's secrets: only which login fields changed.
      details: {
        ...fields,
        ...(login !== undefined && { login: login === null ? null : Object.keys(login) }),
      },
    });
    return adminServiceView(row!);
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
