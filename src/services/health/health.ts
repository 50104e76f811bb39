import type { Bus } from '../../core/bus/types';
import type { Database } from '../../db/client';
import type { AppDeps } from '../../deps';

export type DependencyState = 'ok' | 'unreachable';

const PROBE_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<void>): Promise<DependencyState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('probe timed out')), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'ok';
  } catch {
    return 'unreachable';
  } finally {
    clearTimeout(timer);
  }
}

/** Readiness: the database and the bus answer within the probe timeout. */
export async function checkReadiness({ database, bus }: { database: Database; bus: Bus }) {
  const [db, busState] = await Promise.all([probe(() => database.ping()), probe(() => bus.ping())]);
  return { ready: db === 'ok' && busState === 'ok', checks: { database: db, bus: busState } };
}

export function describeDeployment({ build }: Pick<AppDeps, 'build'>, now = new Date()) {
  return {
    commit: build.sourceHash,
    version: build.version,
    started_at: build.startedAt.toISOString(),
    uptime_seconds: Math.floor((now.getTime() - build.startedAt.getTime()) / 1000),
    node_version: process.version,
  };
}
