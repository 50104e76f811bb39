import { asc, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { services } from '../../db/schema';
import { checkEndpoint, type HealthResult } from './endpoint-health';
import { isLocalPlugin } from './service-plugins';

// Services of API.md §6: shared endpoints configured by admins, each visible to a user by the
// user's service scopes (`access:*`, `access:<category>`) and the service's own extra scopes.

export type ServiceRow = typeof services.$inferSelect;

const splitScopes = (list: string) =>
  list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** `Home Servers` → `home-servers`, the form the user scope `access:<category>` names it by. */
export const categorySlug = (category: string) => category.trim().toLowerCase().replace(/\s+/g, '-');

/**
 * `access:*` sees every service; `access:<category>` sees that category. A service with its own
 * scopes additionally needs one of them (which `access:*` includes).
 */
export function canSeeService(userScopes: string, service: ServiceRow): boolean {
  if (!service.enabled) return false;
  const mine = new Set(splitScopes(userScopes));
  const all = mine.has('access:*');
  const category = service.category ? `access:${categorySlug(service.category)}` : null;
  if (!all && !(category && mine.has(category))) return false;
  const required = splitScopes(service.scopes);
  return all || required.length === 0 || required.some((s) => mine.has(s));
}

/** What users see: where a service sits and how to open it, not its backend address. */
export const serviceView = (row: ServiceRow) => ({
  id: row.id,
  name: row.name,
  plugin: row.plugin,
  path: row.path,
  icon: row.icon,
  category: row.category,
  enabled: row.enabled,
});

export async function listVisibleServices(db: Db, userScopes: string) {
  const rows = await db
    .select()
    .from(services)
    .where(eq(services.enabled, true))
    .orderBy(asc(services.category), asc(services.name), asc(services.id));
  return { services: rows.filter((r) => canSeeService(userScopes, r)).map(serviceView) };
}

/** A service the user may see; hidden and missing ones are both 404. */
export async function findVisibleService(db: Db, userScopes: string, id: number): Promise<ServiceRow> {
  const [row] = await db.select().from(services).where(eq(services.id, id));
  if (!row || !canSeeService(userScopes, row)) throw new AppError('NOT_FOUND', 'Service not found');
  return row;
}

const HEALTH_TTL_MS = 10_000;
const healthCache = new Map<number, { key: string; at: number; result: Promise<HealthResult> }>();

/** Reachability of the backend, cached 10 s per service (and per address, so edits show at once). */
export function serviceHealth(
  row: ServiceRow,
  opts: { terminalEnabled: boolean },
  now = Date.now(),
): Promise<HealthResult> {
  // A terminal is this host: it is up exactly when the operator turned it on.
  if (isLocalPlugin(row.plugin))
    return Promise.resolve({ healthy: opts.terminalEnabled, latency_ms: opts.terminalEnabled ? 0 : null });
  const key = `${row.plugin}|${row.host}|${row.port}`;
  const cached = healthCache.get(row.id);
  if (cached && cached.key === key && now - cached.at < HEALTH_TTL_MS) return cached.result;
  const result = checkEndpoint({ plugin: row.plugin, host: row.host, port: row.port });
  healthCache.set(row.id, { key, at: now, result });
  for (const [id, entry] of healthCache) if (now - entry.at >= HEALTH_TTL_MS) healthCache.delete(id);
  return result;
}
