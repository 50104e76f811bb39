import type { Bus } from '../../core/bus/types';
import type { SecretBox } from '../../core/crypto';
import type { Env } from '../../core/env';
import type { RateLimiter } from '../../core/rate-limit';
import type { Db } from '../../db/client';
import type { webhooks } from '../../db/schema';

// Shared vocabulary of webhooks (API.md §8, seed 002 "Webhooks").

export type WebhookRow = typeof webhooks.$inferSelect;

export const WEBHOOK_TYPES = ['outgoing', 'incoming'] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

export const WEBHOOK_LIMITS = {
  NAME_MAX: 100,
  /** Seed 002: incoming `content` 1–4000, `username` at most 50. */
  CONTENT_MAX: 4000,
  USERNAME_MAX: 50,
  LOGS_DEFAULT: 50,
  LOGS_MAX: 100,
} as const;

/** The configuration webhooks read (every limit of the contract, with its default, in env.ts). */
export type WebhookEnv = Pick<
  Env,
  | 'WEBHOOKS_PER_USER'
  | 'WEBHOOK_RATE_DELIVERIES'
  | 'WEBHOOK_RATE_WINDOW_SECONDS'
  | 'INCOMING_WEBHOOK_RATE_MESSAGES'
  | 'INCOMING_WEBHOOK_RATE_WINDOW_SECONDS'
  | 'WEBHOOK_TIMEOUT_SECONDS'
  | 'WEBHOOK_MAX_ATTEMPTS'
  | 'WEBHOOK_RETRY_BASE_MS'
  | 'WEBHOOK_RETRY_MAX_MS'
  | 'WEBHOOK_DISABLE_AFTER_FAILURES'
  | 'WEBHOOK_TEST_CA_FILE'
  | 'WEBHOOK_TEST_ALLOW_LOOPBACK'
  | 'WEBHOOK_TEST_HOSTS_FILE'
>;

type Log = { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };

/** What webhook services need; AppDeps (with a transaction or the database as `db`) fits. */
export type WebhookDeps = {
  db: Db;
  bus: Bus;
  log: Log & { error(obj: object, msg?: string): void };
  secretBox: SecretBox;
  rateLimiter: RateLimiter;
  env: WebhookEnv;
};

/** Who manages webhooks: Admin+ users, or the admin CLI's built-in owner (userId null). */
export type WebhookActor = { userId: number | null; username: string; level: number };
