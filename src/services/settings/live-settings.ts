import type { Env } from '../../core/env';
import type { Logger } from '../../core/log';
import type { Database } from '../../db/client';
import {
  BASE_ENV,
  defaultOf,
  SETTING_KEYS,
  SETTINGS,
  type ServerSettings,
  type SettingKey,
} from './definitions';
import { effectiveSettings, readStoredSettings } from './settings';

// The settings every request may consult (rate limits, chat and webhook limits) are kept in
// memory: loaded at start, reloaded whenever `app_settings` changes. A trigger NOTIFYs
// `portal_operator` at commit (migration 0016), whichever process wrote (another node, the CLI on
// PostgreSQL), and every node LISTENs, so a change reaches the cluster within a round trip; a
// lost connection reloads on reconnect. The node that made the change reloads at once as well.

export const OPERATOR_CHANNEL = 'portal_operator';

export type LiveSettings = {
  /** The effective settings as last loaded (defaults until `attach` or `refresh`). */
  current(): ServerSettings;
  refresh(): Promise<void>;
  /** Loads and starts listening (servers); the CLI never attaches and reads the table instead. */
  attach(database: Database): Promise<void>;
  detach(): Promise<void>;
};

export function createLiveSettings(opts: { env: Env; log: Logger }): LiveSettings {
  let snapshot = effectiveSettings(opts.env, []);
  let database: Database | null = null;
  let stop: (() => Promise<void>) | null = null;
  let loading: Promise<void> | null = null;
  let again = false;

  const load = async () => {
    if (!database) return;
    snapshot = effectiveSettings(opts.env, await readStoredSettings(database.db));
  };
  // Notifications can come in bursts: one load at a time, plus one more if any came meanwhile.
  const refresh = (): Promise<void> => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again);
      } catch (err) {
        opts.log.warn({ err }, 'server settings reload failed; keeping the previous values');
      } finally {
        loading = null;
      }
    })();
    return loading;
  };

  return {
    current: () => snapshot,
    refresh,
    async attach(db) {
      database = db;
      await load();
      stop = await db.listen(
        OPERATOR_CHANNEL,
        (payload) => {
          if (payload === 'app_settings') void refresh();
        },
        () => void refresh(),
      );
    },
    async detach() {
      const s = stop;
      stop = null;
      database = null;
      await s?.();
    },
  };
}

/**
 * The configuration the rest of Portal reads as `deps.env`: the environment, with the variables
 * that back a runtime setting read through the live settings. Consumers keep reading
 * `deps.env.CHAT_RATE_MESSAGES` and friends at the point of use and see changes without
 * knowing about settings; copying a value out of it takes a snapshot, as with any value.
 */
export function liveEnv(env: Env, settings: Pick<LiveSettings, 'current'>): Env {
  const live = { ...env };
  Object.defineProperty(live, BASE_ENV, { value: env, enumerable: false });
  for (const key of SETTING_KEYS) {
    const variable = (SETTINGS[key] as { env?: keyof Env }).env;
    if (!variable) continue;
    Object.defineProperty(live, variable, {
      enumerable: true,
      get: () => settings.current()[key as SettingKey] ?? defaultOf(env, key),
    });
  }
  return live;
}
