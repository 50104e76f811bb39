import { z } from 'zod';

// The only module that reads process.env. Every limit in API.md is configuration with the
// contract's default; the names of API.md §11 are binding, the rest are ours (README table).

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const ZEnv = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: optionalText.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  REDIS_URL: optionalText.pipe(
    z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
  ),
  // Lets several Portal deployments (or test runs) share one Redis without sharing keys.
  REDIS_KEY_PREFIX: z.string().min(1).max(64).default('portal:'),
  PORTAL_SECRET_KEY: optionalText.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: optionalText,
  TURN_URLS: optionalText,
  TURN_SECRET: optionalText,
  CHROMIUM_PATH: z.string().min(1).default('/usr/bin/chromium'),
  MAX_BROWSERS: int(0, 1000).default(4),
  // A running room browser with no member connected to /ws/portal for this long is stopped.
  BROWSER_IDLE_SECONDS: int(5, 24 * 3600).default(600),
  // Room browsers may not open loopback, private or link-local addresses unless this is true.
  BROWSER_ALLOW_PRIVATE: bool.default(false),
  // Shared-browser screencast: JPEG quality and the most frames per second sent to viewers.
  SCREEN_JPEG_QUALITY: int(10, 100).default(60),
  SCREEN_MAX_FPS: int(1, 60).default(15),
  RTMP_PLAIN_ENABLED: bool.default(false),
  MEDIAMTX_URL: optionalText,
  // Streams (API.md §7, docs/mediamtx.md). MEDIAMTX_URL is MediaMTX's HLS server; its WebRTC server
  // and RTSP listener default to the same host on MediaMTX's standard ports.
  MEDIAMTX_WEBRTC_URL: optionalText,
  MEDIAMTX_RTSP_URL: optionalText,
  // MediaMTX's control API (default: its host, port 9997): live streams whose path is gone there
  // are ended every STREAM_RECONCILE_SECONDS (0: never), e.g. after MediaMTX restarted.
  MEDIAMTX_API_URL: optionalText,
  STREAM_RECONCILE_SECONDS: int(0, 86_400).default(30),
  // Required by the media-server hooks when set; unset, they answer loopback callers only.
  MEDIAMTX_HOOK_SECRET: optionalText.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  // Public addresses shown to stream owners and viewers (unset: derived from the request's Host).
  PUBLIC_URL: optionalText,
  STREAM_RTMPS_URL: optionalText,
  STREAM_RTMP_URL: optionalText,
  FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
  // Relays and VOD recording (seed 002): how their ffmpegs read a live stream from MediaMTX, the
  // length of a recorded chunk, and whether relay destinations may sit on private networks.
  MEDIA_READ_PROTOCOL: z.enum(['rtsp', 'hls']).default('rtsp'),
  VOD_CHUNK_SECONDS: int(1, 3600).default(300),
  RELAY_ALLOW_PRIVATE: bool.default(false),
  STREAMS_PER_USER: int(1, 10_000).default(10),
  // Seed 002: RTMP tokens expire after 15 minutes, with 30 seconds for a reconnect after a drop.
  RTMP_TOKEN_TTL_SECONDS: int(1, 86_400).default(900),
  RTMP_TOKEN_GRACE_SECONDS: int(0, 3600).default(30),
  // Seed 002: dynamic thumbnails are cached 15 s; uploaded ones are at most 2 MB.
  THUMBNAIL_CACHE_SECONDS: int(0, 3600).default(15),
  THUMBNAIL_MAX_BYTES: int(1024, 64 * 1024 * 1024).default(2 * 1024 * 1024),
  // Overrides the commit reported in X-Source-Hash (for builds without a .git folder).
  SOURCE_HASH: optionalText,

  // Realtime: uWebSockets.js listens on its own port; WebSocket upgrades arriving on PORT are
  // bridged to it, and a reverse proxy may route /ws/ straight to it (docs/deploy.md).
  WS_TRANSPORT: z.enum(['auto', 'uws', 'ws']).default('auto'),
  WS_HOST: z.string().min(1).default('127.0.0.1'),
  WS_PORT: int(0, 65535).default(0),
  WS_MAX_PAYLOAD_BYTES: int(1024, 64 * 1024 * 1024).default(64 * 1024),
  WS_MAX_BACKPRESSURE_BYTES: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  WS_MESSAGES_PER_SECOND: int(1, 100000).default(50),
  WS_IDLE_TIMEOUT_SECONDS: int(8, 960).default(120),
  WS_MAX_SOCKETS_PER_USER: int(1, 10000).default(10),
  // Frames of one /ws/chat or /ws/portal socket waiting to be handled (they run in order).
  WS_MAX_PENDING_FRAMES: int(1, 10000).default(32),

  // Rate limit tiers of API.md §0, requests per minute.
  RATE_LIMIT_LOGIN: int(1, 100_000_000).default(20),
  RATE_LIMIT_AUTH: int(1, 100_000_000).default(120),
  RATE_LIMIT_ADMIN: int(1, 100_000_000).default(60),
  RATE_LIMIT_PUBLIC: int(1, 100_000_000).default(120),
  RATE_LIMIT_BOT: int(1, 100_000_000).default(600),
  RATE_LIMIT_HEALTH: int(1, 100_000_000).default(1200),
  // Playback (HLS playlists and segments, WHEP) and media-server hooks: a player polls far more
  // often than a person clicks, so they get a tier of their own.
  RATE_LIMIT_MEDIA: int(1, 100_000_000).default(6000),
  // MediaMTX's own calls (auth for every HLS request it serves, hooks), all from its one address.
  RATE_LIMIT_HOOK: int(1, 100_000_000).default(600_000),

  // One-time login codes (API.md §1, seed 001).
  OTP_CODE_TTL_SECONDS: int(30, 3600).default(300),
  OTP_MAX_PENDING_PER_IP: int(1, 1000).default(5),
  OTP_MAX_ATTEMPTS: int(1, 100).default(5),

  // Public statistics (GET /statistics/*) are recomputed at most this often; 0 disables the cache.
  STATS_CACHE_SECONDS: int(0, 3600).default(10),

  // Credential lookups kept in memory this long; changes reach the cache at once through
  // LISTEN/NOTIFY, so this only bounds how long a lost notification could matter. 0 disables it.
  AUTH_CACHE_SECONDS: int(0, 3600).default(30),

  // Matchmaking (API.md §5): wait before interests/language are ignored, and how long a pair
  // that already met is kept apart.
  MATCH_FALLBACK_SECONDS: int(0, 3600).default(30),
  MATCH_COOLDOWN_MINUTES: int(0, 7 * 24 * 60).default(60),

  // Channel and DM messages older than this are deleted (API.md §8), search tokens with them: the
  // default of the chat_messages retention policy, which the admin CLI may change.
  CHAT_RETENTION_DAYS: int(1, 3650).default(7),
  // How often each node looks for expired data (one node works at a time).
  RETENTION_INTERVAL_SECONDS: int(10, 86_400).default(600),
  // Channel and room chat send rate (seed 002: 5 messages per 5 seconds per user).
  CHAT_RATE_MESSAGES: int(1, 100000).default(5),
  CHAT_RATE_WINDOW_SECONDS: int(1, 3600).default(5),
  // Auto-moderation: how long the regex rules of one message may take (a worker thread runs them).
  AUTOMOD_REGEX_TIMEOUT_MS: int(10, 60_000).default(500),

  // Webhooks (API.md §8, seed 002): limits, the delivery worker and its retry schedule.
  WEBHOOKS_PER_USER: int(1, 10000).default(25),
  WEBHOOK_RATE_DELIVERIES: int(1, 100000).default(30),
  WEBHOOK_RATE_WINDOW_SECONDS: int(1, 3600).default(60),
  INCOMING_WEBHOOK_RATE_MESSAGES: int(1, 100000).default(10),
  INCOMING_WEBHOOK_RATE_WINDOW_SECONDS: int(1, 3600).default(60),
  WEBHOOK_TIMEOUT_SECONDS: int(1, 120).default(10),
  WEBHOOK_MAX_ATTEMPTS: int(1, 50).default(8),
  WEBHOOK_RETRY_BASE_MS: int(100, 86_400_000).default(30_000),
  WEBHOOK_RETRY_MAX_MS: int(100, 7 * 86_400_000).default(3_600_000),
  WEBHOOK_DISABLE_AFTER_FAILURES: int(1, 10000).default(20),
  WEBHOOK_LOG_RETENTION_DAYS: int(1, 3650).default(7),
  // A node with this false enqueues events but leaves delivery to the other nodes.
  WEBHOOK_DELIVERY_ENABLED: bool.default(true),
  WEBHOOK_POLL_INTERVAL_MS: int(50, 60_000).default(1000),
  // Test-only (docs/webhooks.md): trust this CA for deliveries, let receivers sit on loopback, and
  // resolve names from a hosts-style file read at every lookup. Unset in production.
  WEBHOOK_TEST_CA_FILE: optionalText,
  WEBHOOK_TEST_ALLOW_LOOPBACK: bool.default(false),
  WEBHOOK_TEST_HOSTS_FILE: optionalText,
  // Remote access relays and the SFTP browser (API.md §6, §9).
  // A relay with no byte (nor terminal ping) either way for this long is closed (4408).
  RELAY_IDLE_TIMEOUT_SECONDS: int(1, 7 * 24 * 3600).default(600),
  // `terminal` plugin: a PTY on the Portal host, off unless enabled, then Admin+ only.
  TERMINAL_ENABLED: bool.default(false),
  TERMINAL_SHELL: z.string().min(1).default('/bin/bash'),
  // Largest file accepted by POST /api/sftp/{id}/upload (streamed, never held in memory).
  SFTP_UPLOAD_MAX_BYTES: int(1, 1024 * 1024 * 1024 * 1024).default(1024 * 1024 * 1024),
  // Service monitor: probe enabled services this often and send service_alert on changes (0: off).
  SERVICE_CHECK_INTERVAL_SECONDS: int(0, 86_400).default(60),
  // Per-user caps of GET/POST /api/connections and /api/ssh-keys.
  MAX_CONNECTIONS_PER_USER: int(1, 100_000).default(200),
  MAX_SSH_KEYS_PER_USER: int(1, 100_000).default(50),

  // Web proxy of the embedded browser (/proxy/{connection_id}/…): time to connect and get the
  // answer's headers, silence allowed on a body or proxied WebSocket, largest bodies each way,
  // requests per minute and requests in flight per user.
  PROXY_TIMEOUT_SECONDS: int(1, 600).default(30),
  PROXY_IDLE_TIMEOUT_SECONDS: int(1, 24 * 3600).default(120),
  PROXY_MAX_RESPONSE_BYTES: int(1024, 1024 * 1024 * 1024 * 1024).default(1024 * 1024 * 1024),
  PROXY_MAX_REQUEST_BYTES: int(1024, 1024 * 1024 * 1024 * 1024).default(100 * 1024 * 1024),
  PROXY_RATE_LIMIT: int(1, 100_000_000).default(1200),
  PROXY_MAX_CONCURRENT_PER_USER: int(1, 10_000).default(32),
  // Test-only (docs/web-proxy.md): names resolved from a hosts-style file, and loopback ports that
  // browser-mode connections may reach. Unset in production.
  PROXY_TEST_HOSTS_FILE: optionalText,
  PROXY_TEST_LOOPBACK_PORTS: optionalText.pipe(
    z
      .string()
      .regex(/^\d+(,\d+)*$/, 'must be a comma-separated list of ports')
      .optional(),
  ),
  // TLS (docs/certificates.md): HTTPS with the active certificate on this port (unset: none, the
  // certificate is only exported to DATA_DIR/certs for a reverse proxy); ACME issuance settings.
  TLS_PORT: optionalText.pipe(int(0, 65535).optional()),
  ACME_DIRECTORY_URL: z.url().default('https://acme-v02.api.letsencrypt.org/directory'),
  // Extra CA to trust for the ACME directory (a private ACME CA); Let's Encrypt needs none.
  ACME_CA_FILE: optionalText,
  ACME_RENEW_DAYS: int(1, 90).default(30),

  MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
});

export type Env = z.infer<typeof ZEnv>;

export class EnvError extends Error {
  override name = 'EnvError';
}

/** Parses configuration; throws EnvError whose message is one line naming the variable. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(ZEnv.shape)) {
    const value = source[key];
    // An empty variable means "use the default", as in most twelve-factor services.
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const parsed = ZEnv.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'configuration');
    const got = picked[name];
    const what = issue.code === 'invalid_value' ? `must be one of ${issue.values.join(', ')}` : issue.message;
    const shown = name.includes('SECRET') || name.includes('URL') ? '***' : got;
    throw new EnvError(
      `Invalid configuration: ${name} ${what}${got === undefined ? '' : ` (got ${JSON.stringify(shown)})`}`,
    );
  }
  return parsed.data;
}

/** Node environment flags that are not product configuration. */
export const runtime = {
  isTest: process.env.VITEST === 'true' || process.env.NODE_ENV === 'test',
  testDatabaseUrl: process.env.TEST_DATABASE_URL || undefined,
  testRedisUrl: process.env.TEST_REDIS_URL || undefined,
};

/**
 * The environment a `terminal` shell starts with: the login basics of the Portal process, never its
 * configuration (PORTAL_SECRET_KEY, DATABASE_URL and the rest stay out of the shell).
 */
export function terminalEnvironment(): Record<string, string> {
  const picked: Record<string, string> = { TERM: 'xterm-256color', COLORTERM: 'truecolor' };
  for (const key of ['HOME', 'PATH', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ']) {
    const value = process.env[key];
    if (value) picked[key] = value;
  }
  picked.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return picked;
}
