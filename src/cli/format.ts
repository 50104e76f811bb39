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
  const pct = (n: number | null) => (n === null ? 'unknown' : `${n}%`);
  const p = h.process;
  return [
    `status    ${h.status}${h.problems.length > 0 ? `: ${h.problems.join(', ')}` : ''}`,
    `process   ${p.role} on ${p.host}, pid ${p.pid}, up ${p.uptime_seconds} s, portal ${p.portal_version} (${p.commit}), node ${p.node_version}`,
    `          cpu ${pct(p.cpu_percent)}, rss ${size(p.memory.rss_bytes)}, heap ${size(p.memory.heap_used_bytes)} of ${size(p.memory.heap_total_bytes)}, ` +
      `event loop ${Math.round(p.event_loop.utilization * 100)}% busy, delay p99 ${p.event_loop.delay.p99_ms} ms, ${p.open_file_descriptors ?? 'unknown'} open files`,
    `cpu       ${h.cpu.count} cores, ${pct(h.cpu.usage_percent)} used, load ${load['1m'].toFixed(2)} ${load['5m'].toFixed(2)} ${load['15m'].toFixed(2)}`,
    `memory    ${size(h.memory.free_bytes)} free of ${size(h.memory.total_bytes)} (${h.memory.used_percent}% used)`,
    `disk      ${size(h.disk.free_bytes)} free of ${size(h.disk.total_bytes)} at ${h.disk.path} (${pct(h.disk.used_percent)} used)`,
    `database  ${probe(h.database)}, ${size(h.database.size_bytes)}`,
    `bus       ${probe(h.bus)}`,
    `sockets   ${h.websockets.connections ?? 'unknown'} on this node, ${h.websockets.online_users ?? 'unknown'} users online`,
  ].join('\n');
}
