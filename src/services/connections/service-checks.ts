import { and, count, desc, eq, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { serviceChecks, services } from '../../db/schema';
import type { HealthResult } from './endpoint-health';

// The service log: every probe of the service monitor, so an operator can see when a service was
// down and how slow it was (`service checks <id>`). Kept as long as the `service_logs` retention
// policy says.

export async function recordServiceCheck(db: Db, serviceId: number, result: HealthResult) {
  // INSERT … SELECT: a service deleted while its probe ran has nothing left to log (no FK error).
  await db.execute(
    sql`insert into service_checks (service_id, healthy, latency_ms)
        select id, ${result.healthy}, ${result.latency_ms} from services where id = ${serviceId}`,
  );
}

export async function listServiceChecks(db: Db, opts: { id: number; limit: number; offset: number }) {
  const [service] = await db
    .select({ id: services.id, name: services.name })
    .from(services)
    .where(eq(services.id, opts.id));
  if (!service) throw new AppError('NOT_FOUND', 'Service not found');
  const where = and(eq(serviceChecks.serviceId, opts.id));
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(serviceChecks)
      .where(where)
      .orderBy(desc(serviceChecks.id))
      .limit(opts.limit)
      .offset(opts.offset),
    db.select({ n: count() }).from(serviceChecks).where(where),
  ]);
  return {
    service,
    checks: rows.map((r) => ({
      id: r.id,
      healthy: r.healthy,
      latency_ms: r.latencyMs,
      checked_at: r.createdAt.toISOString(),
    })),
    total: total?.n ?? 0,
    limit: opts.limit,
    offset: opts.offset,
  };
}
