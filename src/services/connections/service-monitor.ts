import { and, asc, eq, gt, isNull, lte, ne, or, sql } from 'drizzle-orm';
import type { Logger } from '../../core/log';
import type { Db } from '../../db/client';
import { services, users } from '../../db/schema';
import { notify, type PushDeps } from '../notifications/notify';
import { STATE } from '../users/policy';
import { checkEndpoint } from './endpoint-health';
import { recordServiceCheck } from './service-checks';
import { canSeeService, type ServiceRow } from './shared-services';

// The service monitor (API.md §4 `service_alert`): every node runs it; each tick claims the
// enabled services whose last probe is older than the interval (a conditional UPDATE, so one node
// probes a service per interval however many run), probes them with the health check of
// GET /api/services/{id}/health, and stores `healthy`/`checked_at`. A change of state is
// detected by a second conditional UPDATE … RETURNING, so exactly one node announces it:
// up/unknown → down sends "<name> is down", down → up sends "<name> is back up", to every user
// whose scopes can see the service. A terminal (the Portal host itself) is not probed.

const USER_BATCH = 5_000;

type MonitorDeps = { db: Db } & PushDeps;

/** Claims the services due for a probe (marks them checked now, so no other node takes them). */
async function claimDue(db: Db, intervalMs: number): Promise<ServiceRow[]> {
  const due = new Date(Date.now() - intervalMs * 0.9);
  return db
    .update(services)
    .set({ checkedAt: sql`now()` })
    .where(
      and(
        eq(services.enabled, true),
        ne(services.plugin, 'terminal'),
        or(isNull(services.checkedAt), lte(services.checkedAt, due)),
      ),
    )
    .returning();
}

/** Stores a probe result; true when this call changed the state (and so must announce it). */
async function recordResult(db: Db, id: number, healthy: boolean): Promise<boolean> {
  const changed = await db
    .update(services)
    .set({ healthy })
    .where(
      and(
        eq(services.id, id),
        // Down is news from up or unknown; up is news only after down.
        healthy ? eq(services.healthy, false) : or(isNull(services.healthy), eq(services.healthy, true)),
      ),
    )
    .returning({ id: services.id });
  if (changed.length > 0) return true;
  // No transition; the first probe of a healthy service still records its state.
  await db
    .update(services)
    .set({ healthy })
    .where(and(eq(services.id, id), isNull(services.healthy)));
  return false;
}

/** Users whose scopes see the service (banned accounts skipped), in id order, batch by batch. */
async function* viewersOf(db: Db, row: ServiceRow) {
  let after = 0;
  for (;;) {
    const batch = await db
      .select({ id: users.id, scopes: users.scopes })
      .from(users)
      .where(and(gt(users.id, after), ne(users.state, STATE.BANNED)))
      .orderBy(asc(users.id))
      .limit(USER_BATCH);
    if (batch.length === 0) return;
    yield batch.filter((u) => canSeeService(u.scopes, row)).map((u) => u.id);
    after = batch.at(-1)!.id;
  }
}

async function announce(deps: MonitorDeps, row: ServiceRow, healthy: boolean) {
  for await (const userIds of viewersOf(deps.db, row)) {
    if (userIds.length === 0) continue;
    await notify(deps, {
      userIds,
      type: 'service_alert',
      title: healthy ? `${row.name} is back up` : `${row.name} is down`,
      message: healthy
        ? `${row.name} answers again.`
        : `${row.name} does not answer. Connections to it will fail until it recovers.`,
      data: { service_id: row.id, healthy },
    });
  }
}

/** One round: probe what is due, store results, announce changes. Returns how many were probed. */
export async function checkServices(deps: MonitorDeps, intervalMs: number, timeoutMs?: number) {
  const due = await claimDue(deps.db, intervalMs);
  await Promise.all(
    due.map(async (row) => {
      const result = await checkEndpoint({ plugin: row.plugin, host: row.host, port: row.port }, timeoutMs);
      const { healthy } = result;
      await recordServiceCheck(deps.db, row.id, result);
      if (await recordResult(deps.db, row.id, healthy)) await announce(deps, row, healthy);
    }),
  );
  return due.length;
}

/** Starts the per-node job (SERVICE_CHECK_INTERVAL_SECONDS; 0 turns it off). */
export function startServiceMonitor(deps: MonitorDeps & { log: Logger }, intervalSeconds: number) {
  if (intervalSeconds <= 0) return { stop: async () => {} };
  const intervalMs = intervalSeconds * 1000;
  let running: Promise<void> | null = null;
  const tick = () => {
    if (running) return; // a slow round must not stack
    running = checkServices(deps, intervalMs)
      .then(() => undefined)
      .catch((err) => deps.log.warn({ err }, 'service monitor round failed'))
      .finally(() => {
        running = null;
      });
  };
  // Probes are due per service; ticking more often than the interval keeps their spacing even.
  const timer = setInterval(tick, Math.max(1000, Math.floor(intervalMs / 4)));
  timer.unref();
  tick();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
