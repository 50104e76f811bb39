import { eq, inArray } from 'drizzle-orm';
import { randomToken } from '../../core/crypto';
import type { Env } from '../../core/env';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { appSettings } from '../../db/schema';
import type { AdminActor } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { inviteCodeFor } from '../auth/invite-code';
import {
  defaultOf,
  INVITE_ROTATION_KEY,
  isSettingKey,
  parseSettingValue,
  SETTING_KEYS,
  SETTINGS,
  type ServerSettings,
  type SettingKey,
  type SettingValue,
} from './definitions';
import type { LiveSettings } from './live-settings';

// Server settings stored in `app_settings` (API.md §8: admin router and CLI, not REST). Yes/no
// gates (registration, invite code, plain RTMP) read the table on every use, so a change holds on
// every node at once; hot-path limits read the in-memory copy of live-settings.ts instead.

type StoredRow = { key: string; value: unknown; updatedAt: Date };

/** The writer's own node reloads at once; the others follow the NOTIFY of the trigger. */
type ChangeOpts = { db: Db; env: Env; actor: AdminActor; key: string; live?: Pick<LiveSettings, 'refresh'> };

/** Stored values of known settings that still pass their checks (a value from an older version
 * with other bounds falls back to the default rather than breaking the server). */
export function effectiveSettings(env: Env, rows: StoredRow[]): ServerSettings {
  const values = Object.fromEntries(SETTING_KEYS.map((k) => [k, defaultOf(env, k)])) as Record<
    SettingKey,
    SettingValue
  >;
  for (const row of rows) {
    if (!isSettingKey(row.key)) continue;
    const parsed = parseSettingValue(row.key, row.value as string | number | boolean);
    if (parsed.ok) values[row.key] = parsed.value;
  }
  return values as ServerSettings;
}

export function readStoredSettings(db: Db): Promise<StoredRow[]> {
  return db
    .select({ key: appSettings.key, value: appSettings.value, updatedAt: appSettings.updatedAt })
    .from(appSettings)
    .where(inArray(appSettings.key, SETTING_KEYS));
}

/** Every setting's effective value, read now. The streams feature asks `isRtmpPlainEnabled`. */
export async function getServerSettings(opts: { db: Db; env: Env }): Promise<ServerSettings> {
  return effectiveSettings(opts.env, await readStoredSettings(opts.db));
}

export async function isRtmpPlainEnabled(opts: { db: Db; env: Env }): Promise<boolean> {
  return (await getServerSettings(opts)).rtmp_plain_enabled;
}

export async function isRegistrationOpen(opts: { db: Db; env: Env }): Promise<boolean> {
  return (await getServerSettings(opts)).registration_open;
}

function view(env: Env, key: SettingKey, row: StoredRow | undefined) {
  const parsed = row ? parseSettingValue(key, row.value as string | number | boolean) : undefined;
  const stored = parsed?.ok ? parsed.value : undefined;
  return {
    key,
    value: stored ?? defaultOf(env, key),
    default: defaultOf(env, key),
    source: stored === undefined ? ('default' as const) : ('setting' as const),
    type: SETTINGS[key].type,
    description: SETTINGS[key].description,
    updated_at: stored === undefined ? null : row!.updatedAt.toISOString(),
  };
}

function requireKey(key: string): SettingKey {
  if (!isSettingKey(key))
    throw new AppError('BAD_REQUEST', `Unknown setting: ${key}`, { known: SETTING_KEYS });
  return key;
}

/** `settings get [key]`: value, default and where the value comes from. */
export async function listSettings(opts: { db: Db; env: Env; key?: string | undefined }) {
  const keys = opts.key === undefined ? SETTING_KEYS : [requireKey(opts.key)];
  const rows = new Map((await readStoredSettings(opts.db)).map((r) => [r.key, r]));
  return { settings: keys.map((k) => view(opts.env, k, rows.get(k))) };
}

export async function setSetting(opts: ChangeOpts & { value: string | number | boolean }) {
  const key = requireKey(opts.key);
  const parsed = parseSettingValue(key, opts.value);
  if (!parsed.ok) throw new AppError('BAD_REQUEST', parsed.error);
  const result = await opts.db.transaction(async (tx) => {
    const [previous] = await tx.select().from(appSettings).where(eq(appSettings.key, key));
    const [row] = await tx
      .insert(appSettings)
      .values({ key, value: parsed.value })
      .onConflictDoUpdate({ target: appSettings.key, set: { value: parsed.value, updatedAt: new Date() } })
      .returning();
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'settings.set',
      targetType: 'setting',
      targetId: key,
      details: { value: parsed.value, previous: previous?.value ?? null },
    });
    return view(opts.env, key, row);
  });
  await opts.live?.refresh();
  return result;
}

/** Forgets the stored value: the default (environment variable) applies again. */
export async function resetSetting(opts: ChangeOpts) {
  const key = requireKey(opts.key);
  const result = await opts.db.transaction(async (tx) => {
    const removed = await tx.delete(appSettings).where(eq(appSettings.key, key)).returning();
    if (removed.length > 0)
      await writeAudit(tx, {
        actor: auditActorOf(opts.actor),
        action: 'settings.reset',
        targetType: 'setting',
        targetId: key,
        details: { previous: removed[0]!.value },
      });
    return view(opts.env, key, undefined);
  });
  await opts.live?.refresh();
  return result;
}

export async function inviteRotationOf(db: Db): Promise<string | null> {
  const [row] = await db
    .select({ value: appSettings.value })
    .from(appSettings)
    .where(eq(appSettings.key, INVITE_ROTATION_KEY));
  return typeof row?.value === 'string' ? row.value : null;
}

/** `invite rotate`: today's code (and every later one) changes now, on every node. */
export async function rotateInviteCode(opts: { db: Db; actor: AdminActor; secretKey: Buffer; now?: Date }) {
  const rotation = randomToken(16);
  const now = opts.now ?? new Date();
  await opts.db.transaction(async (tx) => {
    await tx
      .insert(appSettings)
      .values({ key: INVITE_ROTATION_KEY, value: rotation })
      .onConflictDoUpdate({ target: appSettings.key, set: { value: rotation, updatedAt: new Date() } });
    await writeAudit(tx, { actor: auditActorOf(opts.actor), action: 'invite.rotate' });
  });
  return { code: inviteCodeFor(opts.secretKey, now, rotation), date: now.toISOString().slice(0, 10) };
}
