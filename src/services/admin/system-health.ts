import { statfs } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { Bus } from '../../core/bus/types';
import type { Database } from '../../db/client';

// `health` of API.md §10: what an operator checks first on the machine that runs Portal.

const PROBE_TIMEOUT_MS = 2000;

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
    return { path, free_bytes: s.bavail * s.bsize, total_bytes: s.blocks * s.bsize };
  } catch {
    return { path, free_bytes: null, total_bytes: null };
  }
}

export async function systemHealth(opts: { database: Database; bus: Bus; dataDir: string }) {
  const memory = process.memoryUsage();
  const [database, bus, disk] = await Promise.all([
    timedProbe(() => opts.database.ping()),
    timedProbe(() => opts.bus.ping()),
    diskOf(resolve(opts.dataDir)),
  ]);
  const [load1, load5, load15] = loadavg();
  const cpuTime = process.cpuUsage();
  return {
    process: {
      pid: process.pid,
      uptime_seconds: Math.floor(process.uptime()),
      node_version: process.version,
      memory: { rss_bytes: memory.rss, heap_used_bytes: memory.heapUsed, heap_total_bytes: memory.heapTotal },
      cpu_seconds: { user: cpuTime.user / 1e6, system: cpuTime.system / 1e6 },
    },
    cpu: { count: cpus().length, load_average: { '1m': load1 ?? 0, '5m': load5 ?? 0, '15m': load15 ?? 0 } },
    // The machine's memory: a Portal process can look healthy while the host runs out.
    memory: { total_bytes: totalmem(), free_bytes: freemem() },
    disk,
    database: { kind: opts.database.kind, ...database },
    bus: { kind: opts.bus.kind, ...bus },
  };
}
