import type { Env } from '../../core/env';

// The runtime server settings (seed 002 "Server Settings"): registration, plain RTMP and the limits
// the seed's "Rate Limits" list names. Each has a default (its environment variable where one
// exists) that a stored value overrides until it is reset. Bounds are those of the variables.

type BooleanSetting = { type: 'boolean'; description: string; env?: keyof Env; fallback?: boolean };
type IntegerSetting = {
  type: 'integer';
  description: string;
  env: keyof Env;
  min: number;
  max: number;
};
export type SettingDefinition = BooleanSetting | IntegerSetting;

export const SETTINGS = {
  registration_open: {
    type: 'boolean',
    fallback: true,
    description: 'POST /api/register accepts new accounts (with the daily invite code)',
  },
  rtmp_plain_enabled: {
    type: 'boolean',
    env: 'RTMP_PLAIN_ENABLED',
    description: 'streams may publish over plain RTMP with a short-lived token',
  },
  rate_limit_login: {
    type: 'integer',
    env: 'RATE_LIMIT_LOGIN',
    min: 1,
    max: 100_000_000,
    description: 'requests per minute per client to /auth/*, /api/token, /api/register',
  },
  rate_limit_auth: {
    type: 'integer',
    env: 'RATE_LIMIT_AUTH',
    min: 1,
    max: 100_000_000,
    description: 'requests per minute per client to the other authenticated endpoints',
  },
  chat_rate_messages: {
    type: 'integer',
    env: 'CHAT_RATE_MESSAGES',
    min: 1,
    max: 100_000,
    description: 'chat messages one user may send per window (channels, DMs, room chat)',
  },
  chat_rate_window_seconds: {
    type: 'integer',
    env: 'CHAT_RATE_WINDOW_SECONDS',
    min: 1,
    max: 3600,
    description: 'window of the chat send rate',
  },
  webhooks_per_user: {
    type: 'integer',
    env: 'WEBHOOKS_PER_USER',
    min: 1,
    max: 10_000,
    description: 'webhooks one user may own',
  },
  webhook_rate_deliveries: {
    type: 'integer',
    env: 'WEBHOOK_RATE_DELIVERIES',
    min: 1,
    max: 100_000,
    description: 'outgoing deliveries per webhook per window',
  },
  webhook_rate_window_seconds: {
    type: 'integer',
    env: 'WEBHOOK_RATE_WINDOW_SECONDS',
    min: 1,
    max: 3600,
    description: 'window of the outgoing webhook rate',
  },
  incoming_webhook_rate_messages: {
    type: 'integer',
    env: 'INCOMING_WEBHOOK_RATE_MESSAGES',
    min: 1,
    max: 100_000,
    description: 'messages one incoming webhook token may post per window',
  },
  incoming_webhook_rate_window_seconds: {
    type: 'integer',
    env: 'INCOMING_WEBHOOK_RATE_WINDOW_SECONDS',
    min: 1,
    max: 3600,
    description: 'window of the incoming webhook rate',
  },
} as const satisfies Record<string, SettingDefinition>;

export type SettingKey = keyof typeof SETTINGS;
export type SettingValue = boolean | number;
/** The effective value of every setting. */
export type ServerSettings = {
  [K in SettingKey]: (typeof SETTINGS)[K]['type'] extends 'boolean' ? boolean : number;
};

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** Stored next to the settings but never set by hand: `invite rotate` replaces it. */
export const INVITE_ROTATION_KEY = 'invite_code_rotation';

export const isSettingKey = (key: string): key is SettingKey => Object.hasOwn(SETTINGS, key);

/** Where a live env (live-settings.ts) keeps the environment it overlays. */
export const BASE_ENV = Symbol('base env');

/** The environment as configured, whether given it or a live env over it. */
export const baseEnvOf = (env: Env): Env => (env as Env & { [BASE_ENV]?: Env })[BASE_ENV] ?? env;

/** A setting's value when none is stored: its variable as configured, or the built-in fallback. */
export function defaultOf(liveOrBase: Env, key: SettingKey): SettingValue {
  const env = baseEnvOf(liveOrBase);
  const def: SettingDefinition = SETTINGS[key];
  if (def.type === 'integer') return env[def.env] as number;
  return def.env ? (env[def.env] as boolean) : (def.fallback ?? false);
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on', 'open', 'enabled']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off', 'closed', 'disabled']);

/**
 * Checks a value for `key` (the CLI sends text, typed callers numbers and booleans); returns the
 * value to store or an error sentence naming the setting.
 */
export function parseSettingValue(
  key: SettingKey,
  raw: string | number | boolean,
): { ok: true; value: SettingValue } | { ok: false; error: string } {
  const def: SettingDefinition = SETTINGS[key];
  if (def.type === 'boolean') {
    if (typeof raw === 'boolean') return { ok: true, value: raw };
    const word = String(raw).trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return { ok: true, value: true };
    if (FALSE_WORDS.has(word)) return { ok: true, value: false };
    return { ok: false, error: `${key} must be true or false` };
  }
  const text = String(raw).trim();
  if (typeof raw === 'boolean' || !/^-?\d+$/.test(text))
    return { ok: false, error: `${key} must be a whole number from ${def.min} to ${def.max}` };
  const value = Number(text);
  if (value < def.min) return { ok: false, error: `${key} must be at least ${def.min}` };
  if (value > def.max) return { ok: false, error: `${key} must be at most ${def.max}` };
  return { ok: true, value };
}
