import { readdir } from 'node:fs/promises';
import { cpus, freemem, totalmem } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

// Host and process measurements for `health` (seed 002 "System Health": CPU, memory, disk and
// Portal process metrics). CPU use is measured over a short sample taken during the call, the way
// `top` does, since the counters the OS keeps only mean something as differences.

const SAMPLE_MS = 250;
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

// Event-loop delay of this process since it loaded this module (a server: since start-up).
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function cpuTimes() {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** Machine-wide and this process's CPU use over a short sample, and the loop's busy share. */
export async function sampleCpu() {
  const host = cpuTimes();
  const proc = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const started = performance.now();
  await new Promise((r) => setTimeout(r, SAMPLE_MS));
  const elapsedMs = performance.now() - started;
  const hostAfter = cpuTimes();
  const procDelta = process.cpuUsage(proc);
  const totalDelta = hostAfter.total - host.total;
  const cores = cpus().length || 1;
  return {
    usage_percent: totalDelta > 0 ? round(100 * (1 - (hostAfter.idle - host.idle) / totalDelta)) : null,
    // Of one core: 200 means two cores busy with Portal.
    process_percent: round((100 * (procDelta.user + procDelta.system)) / 1000 / elapsedMs),
    cores,
    event_loop_utilization: round(performance.eventLoopUtilization(elu).utilization, 3),
  };
}

export function systemMemory() {
  const total = totalmem();
  const free = freemem();
  return { total_bytes: total, free_bytes: free, used_percent: round((100 * (total - free)) / total) };
}

export function processMemory() {
  const m = process.memoryUsage();
  return {
    rss_bytes: m.rss,
    heap_used_bytes: m.heapUsed,
    heap_total_bytes: m.heapTotal,
    external_bytes: m.external,
    array_buffers_bytes: m.arrayBuffers,
  };
}

export function eventLoopDelay() {
  const ms = (ns: number) => round(ns / 1e6, 2);
  return {
    p50_ms: ms(loopDelay.percentile(50)),
    p99_ms: ms(loopDelay.percentile(99)),
    max_ms: ms(loopDelay.max),
  };
}

/** Open file descriptors (sockets included) where the OS shows them (/proc on Linux). */
export async function openFileDescriptors(): Promise<number | null> {
  try {
    return (await readdir('/proc/self/fd')).length;
  } catch {
    return null;
  }
}
