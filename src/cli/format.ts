import type { inferRouterOutputs } from '@trpc/server';
import type { AdminRouter } from '../routers/admin/router';

// Human-readable output of the listing commands; `--json` prints the router's object instead.

type Outputs = inferRouterOutputs<AdminRouter>;

export function formatAnnouncements({ announcements }: Outputs['announcements']['list']) {
  if (announcements.length === 0) return 'No announcements';
  return announcements
    .map((a) => {
      const state = a.active ? 'active' : 'expired';
      const expiry = a.expires_at ? `, expires ${a.expires_at}` : '';
      return `#${a.id} [${state}${expiry}] ${a.title}: ${a.message}`;
    })
    .join('\n');
}

export function formatAuditLog({ entries, total, offset }: Outputs['audit']['list']) {
  if (entries.length === 0) return total === 0 ? 'No audit entries match' : `No entries past ${offset}`;
  const lines = entries.map((e) => {
    const target = e.target_type ? ` ${e.target_type}:${e.target_id}` : '';
    const reason = e.reason ? ` (${e.reason})` : '';
    return `${e.created_at}  ${e.actor}  ${e.action}${target}${reason}`;
  });
  const shown = offset + entries.length;
  return shown < total
    ? [...lines, `… ${total - shown} more (--offset ${shown})`].join('\n')
    : lines.join('\n');
}

function size(bytes: number | null) {
  if (bytes === null) return 'unknown';
  const mib = bytes / 1024 / 1024;
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(1)} MiB`;
}

export function formatHealth(h: Outputs['health']['system']) {
  const probe = (p: { kind: string; state: string; latency_ms: number | null }) =>
    `${p.state}${p.latency_ms === null ? '' : ` (${p.latency_ms} ms)`}, ${p.kind}`;
  const load = h.cpu.load_average;
  return [
    `process   pid ${h.process.pid}, up ${h.process.uptime_seconds} s, node ${h.process.node_version}`,
    `memory    ${size(h.memory.free_bytes)} free of ${size(h.memory.total_bytes)}; process rss ${size(h.process.memory.rss_bytes)}, heap ${size(h.process.memory.heap_used_bytes)} of ${size(h.process.memory.heap_total_bytes)}`,
    `cpu       ${h.cpu.count} cores, load ${load['1m'].toFixed(2)} ${load['5m'].toFixed(2)} ${load['15m'].toFixed(2)}; process ${(h.process.cpu_seconds.user + h.process.cpu_seconds.system).toFixed(1)} s`,
    `disk      ${size(h.disk.free_bytes)} free of ${size(h.disk.total_bytes)} at ${h.disk.path}`,
    `database  ${probe(h.database)}`,
    `bus       ${probe(h.bus)}`,
  ].join('\n');
}
