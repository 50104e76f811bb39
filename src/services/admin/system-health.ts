import { statfs } from 'node:fs/promises';
import { cpus, hostname, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { sql } from 'drizzle-orm';
import type { Bus } from '../../core/bus/types';
import type { Database } from '../../db/client';
import { PRESENCE_SET } from '../stats/public';
import { eventLoopDelay, openFileDescriptors, processMemory, sampleCpu, systemMemory } from './host-metrics';

// `health` of API.md §10 and seed 002 "System Health": what an operator checks first on the
// machine that runs Portal — CPU, memory, disk, the Portal process, database and bus latency,
// WebSockets — and one word for all of it. It describes the process that answers: the server
// (also through the embedded database's admin channel), or the CLI itself when it runs in-process
// on PostgreSQL (`process.role` says which; the WebSocket count is then unknown).

const PROBE_TIMEOUT_MS = 2000;
/** Past these the node is `degraded`. */
const DISK_USED_WARN_PERCENT = 90;
const MEMORY_USED_WARN_PERCENT = 95;

async function timedProbe(check: () => Promise<void>) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('probe timed out')), PROBE_TIMEOUT_MS);
      }),
    ]);
    return { state: 'ok' as const, latency_ms: Math.round((performance.now() - started) * 100) / 100 };
  } catch {
    return { state: 'unreachable' as const, latency_ms: null };
  } finally {
    clearTimeout(timer);
  }
}

async function diskOf(path: string) {
  try {
    const s = await statfs(path);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    return {
      path,
      free_bytes: free,
      total_bytes: total,
      used_percent: total > 0 ? Math.round((1000 * (total - free)) / total) / 10 : null,
    };
  } catch {
    return { path, free_bytes: null, total_bytes: null, used_percent: null };
  }
}

async function databaseSize(database: Database): Promise<number | null> {
  try {
    const [row] = await database.query<{ size: string | number }>(
      sql`select pg_database_size(current_database()) as size`,
    );
    return row ? Number(row.size) : null;
  } catch {
    return null;
  }
}

export async function systemHealth(opts: {
  database: Database;
  bus: Bus;
  dataDir: string;
  build: { version: string; sourceHash: string };
  /** This node's WebSockets; absent when the CLI answers in its own process. */
  realtime?: { connectionCount(): number } | undefined;
}) {
  const [database, bus, disk, cpu, fds, dbSize, online] = await Promise.all([
    timedProbe(() => opts.database.ping()),
    timedProbe(() => opts.bus.ping()),
    diskOf(resolve(opts.dataDir)),
    sampleCpu(),
    openFileDescriptors(),
    databaseSize(opts.database),
    opts.bus.presenceCount(PRESENCE_SET.onlineUsers).catch(() => null),
  ]);
  const [load1, load5, load15] = loadavg();
  const memory = systemMemory();
  const problems = [
    ...(database.state !== 'ok' ? ['database unreachable'] : []),
    ...(bus.state !== 'ok' ? ['bus unreachable'] : []),
    ...((disk.used_percent ?? 0) >= DISK_USED_WARN_PERCENT ? [`disk ${disk.used_percent}% full`] : []),
    ...(memory.used_percent >= MEMORY_USED_WARN_PERCENT ? [`memory ${memory.used_percent}% used`] : []),
  ];
  return {
    status: problems.length === 0 ? ('ok' as const) : ('degraded' as const),
    problems,
    checked_at: new Date().toISOString(),
    process: {
      role: opts.realtime ? ('server' as const) : ('cli' as const),
      host: hostname(),
      pid: process.pid,
      uptime_seconds: Math.floor(process.uptime()),
      node_version: process.version,
      portal_version: opts.build.version,
      commit: opts.build.sourceHash,
      cpu_percent: cpu.process_percent,
      memory: processMemory(),
      event_loop: { utilization: cpu.event_loop_utilization, delay: eventLoopDelay() },
      open_file_descriptors: fds,
    },
    cpu: {
      count: cpus().length,
      model: cpus()[0]?.model ?? null,
      usage_percent: cpu.usage_percent,
      load_average: { '1m': load1 ?? 0, '5m': load5 ?? 0, '15m': load15 ?? 0 },
    },
    memory,
    disk,
    database: { kind: opts.database.kind, ...database, size_bytes: dbSize },
    bus: { kind: opts.bus.kind, ...bus },
    websockets: {
      /** Open on this node (null when the CLI answers). */
      connections: opts.realtime ? opts.realtime.connectionCount() : null,
      /** Users on /ws/chat or /ws/portal on any node. */
      online_users: online,
    },
  };
}
