import { z } from 'zod';

// The registry of user connection types (API.md §6): display data, default port, the relay
// plugin that serves it, and the zod schema of its form. `GET /api/connection-types` publishes the
// schemas as JSON Schema; the connections service validates with the same schemas.

/** Fields stored sealed and never read back (redacted to `has_<field>`). */
export const SECRET_FIELDS = ['password', 'private_key', 'passphrase', 'token'] as const;
export type SecretField = (typeof SECRET_FIELDS)[number];

export const ZHost = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9._:[\]-]+$/);
export const ZPort = z.number().int().min(1).max(65_535);

const secret = (description: string) =>
  z.string().min(1).max(16_384).meta({ description, writeOnly: true, 'x-secret': true });
const username = z.string().trim().min(1).max(128).meta({ description: 'User name' });
const password = secret('Password');
const verifyTls = z.boolean().meta({ description: 'Verify the TLS certificate of the backend' });
const urlPath = z
  .string()
  .max(2048)
  .regex(/^\/[^\s]*$/)
  .meta({ description: 'Path on the server, starting with /' });

function mediaForm() {
  return form({
    path: z.string().trim().max(255).meta({ description: 'Stream path' }).optional(),
    username: username.optional(),
    password: password.optional(),
  });
}

function webForm() {
  return form({
    path: urlPath.optional(),
    username: username.optional(),
    password: password.optional(),
    verify_tls: verifyTls.optional(),
  });
}

/** Host and port are top-level columns of a connection but part of every type's form. */
const form = <S extends z.ZodRawShape>(shape: S, portRequired = false) =>
  z.object({ host: ZHost, port: portRequired ? ZPort : ZPort.optional(), ...shape });

const schemas = {
  ssh: form({
    username,
    auth_method: z.enum(['password', 'key']).optional(),
    password: password.optional(),
    private_key: secret('OpenSSH or PEM private key').optional(),
    passphrase: secret('Passphrase of the private key').optional(),
  }),
  vnc: form({ password: password.optional() }),
  rdp: form({
    username: username.optional(),
    password: password.optional(),
    domain: z.string().trim().max(255).optional(),
  }),
  spice: form({ password: password.optional() }),
  proxmox: form({
    username: username.optional(),
    password: password.optional(),
    realm: z.string().trim().max(64).optional(),
    token: secret('API token (user@realm!id=secret)').optional(),
    verify_tls: verifyTls.optional(),
  }),
  http: form({ path: urlPath.optional(), username: username.optional(), password: password.optional() }),
  https: form({
    path: urlPath.optional(),
    username: username.optional(),
    password: password.optional(),
    verify_tls: verifyTls.optional(),
  }),
  http_proxy: form({
    browser_mode: z.boolean().meta({ description: 'Navigate to any website' }).optional(),
    home_url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    path: urlPath.optional(),
  }),
  mediamtx: mediaForm(),
  // Seed 002 routes `mediamtx, stream` to the media player: `stream` is the same connection.
  stream: mediaForm(),
  // Web panels (seed 002 "Embedded Browser": Home Assistant, Grafana, Portainer): http_proxy
  // connections with the panel's default port and scheme.
  home_assistant: webForm(),
  grafana: webForm(),
  portainer: webForm(),
  database: form({
    engine: z.enum(['postgresql', 'mysql', 'mariadb', 'mssql', 'mongodb']).optional(),
    database: z.string().trim().max(128).optional(),
    username: username.optional(),
    password: password.optional(),
  }),
  redis: form({
    username: username.optional(),
    password: password.optional(),
    db: z.number().int().min(0).max(15).optional(),
  }),
  tcp_tunnel: form({}, true),
} as const;

export type ConnectionTypeName = keyof typeof schemas;

/** The scheme the web proxy speaks to each web-panel preset (the rest of the http family is by type). */
export const WEB_PANEL_SCHEMES = { home_assistant: 'http', grafana: 'http', portainer: 'https' } as const;

type TypeInfo = { name: string; icon: string; default_port: number | null; plugin: string };

const info: Record<ConnectionTypeName, TypeInfo> = {
  ssh: { name: 'SSH Terminal', icon: 'terminal', default_port: 22, plugin: 'ssh' },
  vnc: { name: 'VNC Desktop', icon: 'monitor', default_port: 5900, plugin: 'vnc' },
  // Raw TCP relay to an RDP-to-VNC bridge run by the operator; the viewer speaks VNC.
  rdp: { name: 'Remote Desktop (RDP)', icon: 'monitor', default_port: 3389, plugin: 'vnc' },
  spice: { name: 'SPICE Console', icon: 'monitor', default_port: 5900, plugin: 'spice' },
  // A web panel reached through the proxy.
  proxmox: { name: 'Proxmox VE', icon: 'server', default_port: 8006, plugin: 'http_proxy' },
  http: { name: 'Web (HTTP)', icon: 'globe', default_port: 80, plugin: 'http_proxy' },
  https: { name: 'Web (HTTPS)', icon: 'globe', default_port: 443, plugin: 'http_proxy' },
  http_proxy: { name: 'Web Browser', icon: 'globe', default_port: 443, plugin: 'http_proxy' },
  mediamtx: { name: 'Media Stream (MediaMTX)', icon: 'video', default_port: 8889, plugin: 'mediamtx' },
  stream: { name: 'Media Stream', icon: 'video', default_port: 8889, plugin: 'mediamtx' },
  home_assistant: { name: 'Home Assistant', icon: 'home', default_port: 8123, plugin: 'http_proxy' },
  grafana: { name: 'Grafana', icon: 'chart', default_port: 3000, plugin: 'http_proxy' },
  portainer: { name: 'Portainer', icon: 'box', default_port: 9443, plugin: 'http_proxy' },
  database: { name: 'Database', icon: 'database', default_port: 5432, plugin: 'tunnel' },
  redis: { name: 'Redis', icon: 'database', default_port: 6379, plugin: 'tunnel' },
  tcp_tunnel: { name: 'TCP Tunnel', icon: 'network', default_port: null, plugin: 'tunnel' },
};

export type ConnectionType = TypeInfo & {
  schema: (typeof schemas)[ConnectionTypeName];
  /** Secret fields this type has. */
  secrets: SecretField[];
};

export const CONNECTION_TYPE_NAMES = Object.keys(schemas) as [ConnectionTypeName, ...ConnectionTypeName[]];

export const CONNECTION_TYPES = Object.fromEntries(
  CONNECTION_TYPE_NAMES.map((type) => [
    type,
    {
      ...info[type],
      schema: schemas[type],
      secrets: SECRET_FIELDS.filter((f) => f in schemas[type].shape),
    },
  ]),
) as Record<ConnectionTypeName, ConnectionType>;

export const isConnectionType = (type: string): type is ConnectionTypeName => type in CONNECTION_TYPES;

/** `{types: {ssh: {name, icon, default_port, plugin, config_schema}, ...}}` for form generation. */
export function describeConnectionTypes() {
  return {
    types: Object.fromEntries(
      CONNECTION_TYPE_NAMES.map((type) => {
        const t = CONNECTION_TYPES[type];
        return [
          type,
          {
            name: t.name,
            icon: t.icon,
            default_port: t.default_port,
            plugin: t.plugin,
            config_schema: z.toJSONSchema(t.schema, { io: 'input' }) as Record<string, unknown>,
          },
        ];
      }),
    ),
  };
}
