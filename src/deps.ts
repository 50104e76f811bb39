import type { Bus } from './core/bus/types';
import { createSecretBox, type SecretBox } from './core/crypto';
import type { Env } from './core/env';
import type { Logger } from './core/log';
import { createRateLimiter, type RateLimiter } from './core/rate-limit';
import { readPackageVersion, readSourceHash } from './core/source-hash';
import type { Database } from './db/client';
import { type CredentialCache, createCredentialCache } from './services/auth/credential-cache';
import { createRelayChanges, type RelayChanges } from './services/relays/changes';
import { createChromiumRuntime } from './services/rooms/browser/chromium';
import { type BrowserHost, createBrowserHost } from './services/rooms/browser-host';
import { createLiveSettings, type LiveSettings, liveEnv } from './services/settings/live-settings';
import { createStreamLifecycle, type StreamLifecycle } from './services/streams/lifecycle';

/** Long-lived services built once by the composition root and shared by every transport. */
export type AppDeps = {
  /** The environment, with the variables behind runtime server settings kept live (liveEnv). */
  env: Env;
  log: Logger;
  database: Database;
  bus: Bus;
  rateLimiter: RateLimiter;
  /** Key material for encryption at rest and token signing (32 bytes). */
  secretKey: Buffer;
  /** AES-256-GCM for secrets at rest (TOTP secrets, pending login codes, credentials). */
  secretBox: SecretBox;
  build: { sourceHash: string; version: string; startedAt: Date };
  /** Shared room browsers: this node's Chromium runtime, reachable from every node. */
  browsers: BrowserHost;
  /** Credential lookups kept in memory; active once `attach`ed to the database (server only). */
  credentialCache: CredentialCache;
  /** Streams going live and offline: relays and VOD recording listen here (services/streams/lifecycle.ts). */
  streamLifecycle: StreamLifecycle;
  /** Relay edits, so a live stream's relay processes follow them at once (services/relays). */
  relayChanges: RelayChanges;
  /** Runtime server settings in memory; current once `attach`ed to the database (server only). */
  settings: LiveSettings;
  /** What the realtime transport reports about this node, once the server has one. */
  realtime?: { connectionCount(): number };
};

/** The one way to assemble AppDeps, for the server and for the CLI's in-process runs. */
export function createAppDeps(opts: {
  env: Env;
  log: Logger;
  database: Database;
  bus: Bus;
  secretKey: Buffer;
}): AppDeps {
  const { bus } = opts;
  const settings = createLiveSettings({ env: opts.env, log: opts.log });
  const env = liveEnv(opts.env, settings);
  const secretBox = createSecretBox(opts.secretKey);
  // Chromium starts at the first room start, not here: the CLI and most tests never launch it.
  const runtime = createChromiumRuntime({
    executablePath: env.CHROMIUM_PATH,
    capacity: env.MAX_BROWSERS,
    allowPrivateNetworks: env.BROWSER_ALLOW_PRIVATE,
    jpegQuality: env.SCREEN_JPEG_QUALITY,
    maxFps: env.SCREEN_MAX_FPS,
    log: opts.log,
  });
  return {
    ...opts,
    env,
    settings,
    rateLimiter: createRateLimiter({
      store: bus.counters,
      // Read per request: LOGIN and AUTH are runtime settings.
      limits: {
        get LOGIN() {
          return env.RATE_LIMIT_LOGIN;
        },
        get AUTH() {
          return env.RATE_LIMIT_AUTH;
        },
        ADMIN: env.RATE_LIMIT_ADMIN,
        PUBLIC: env.RATE_LIMIT_PUBLIC,
        BOT: env.RATE_LIMIT_BOT,
        HEALTH: env.RATE_LIMIT_HEALTH,
        MEDIA: env.RATE_LIMIT_MEDIA,
        HOOK: env.RATE_LIMIT_HOOK,
      },
    }),
    secretBox,
    browsers: createBrowserHost({
      db: opts.database.db,
      bus,
      log: opts.log,
      secretBox,
      runtime,
      idleSeconds: env.BROWSER_IDLE_SECONDS,
    }),
    credentialCache: createCredentialCache({ ttlSeconds: env.AUTH_CACHE_SECONDS }),
    streamLifecycle: createStreamLifecycle(),
    relayChanges: createRelayChanges(),
    build: {
      sourceHash: readSourceHash(env.SOURCE_HASH),
      version: readPackageVersion(),
      startedAt: new Date(),
    },
  };
}
