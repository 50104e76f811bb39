import type { Bus } from './core/bus/types';
import type { SecretBox } from './core/crypto';
import type { Env } from './core/env';
import type { Logger } from './core/log';
import type { RateLimiter } from './core/rate-limit';
import type { Database } from './db/client';

/** Long-lived services built once by the composition root and shared by every transport. */
export type AppDeps = {
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
};
