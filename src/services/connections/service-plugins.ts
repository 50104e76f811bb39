// The plugins an admin-configured service can have (API.md §6, §9; seed 002 "Supported Plugins"),
// and which relay on `/ws/{plugin}/{service_id}` serves each.

export const SERVICE_PLUGINS = [
  'ssh',
  'terminal',
  'vnc',
  'rdp',
  'spice',
  'tcp_tunnel',
  'tunnel',
  'secure_tunnel',
  'http',
  'https',
  'http_proxy',
  'proxmox',
  'mediamtx',
] as const;
export type ServicePlugin = (typeof SERVICE_PLUGINS)[number];

export type RelayKind = 'ssh' | 'terminal' | 'tcp' | 'mux';

/**
 * Path plugin → the relay it speaks and the service plugins it may open. `tunnel` and `tcp_tunnel`
 * are one thing under two names (the seed uses both); `vnc` also opens `rdp` services (an
 * RDP-to-VNC bridge speaks VNC); `secure_tunnel` multiplexes any tunnel service. Web plugins go
 * through the web proxy and mediamtx through streams, so they have no WebSocket relay.
 */
export const RELAY_PATHS: Record<string, { kind: RelayKind; opens: readonly ServicePlugin[] }> = {
  ssh: { kind: 'ssh', opens: ['ssh'] },
  terminal: { kind: 'terminal', opens: ['terminal'] },
  vnc: { kind: 'tcp', opens: ['vnc', 'rdp'] },
  rdp: { kind: 'tcp', opens: ['rdp'] },
  spice: { kind: 'tcp', opens: ['spice'] },
  tcp_tunnel: { kind: 'tcp', opens: ['tcp_tunnel', 'tunnel'] },
  tunnel: { kind: 'tcp', opens: ['tcp_tunnel', 'tunnel'] },
  secure_tunnel: { kind: 'mux', opens: ['secure_tunnel', 'tcp_tunnel', 'tunnel'] },
};

/** Services the monitor does not probe over the network: a terminal is the Portal host itself. */
export const isLocalPlugin = (plugin: string) => plugin === 'terminal';
