import { resolve } from 'node:path';
import { createBus } from '../core/bus';
import type { Env } from '../core/env';
import { AppError } from '../core/errors';
import type { Logger } from '../core/log';
import { loadSecretKey } from '../core/secret-key';
import { type Database, openDatabase } from '../db/client';
import { type AppDeps, createAppDeps } from '../deps';
import { adminSocketPath, callAdminChannel } from './admin-channel';
import { type AdminRequest, invokeAdmin } from './invoke';

/** Where the CLI's admin calls go: this process's own database, or the running server's channel. */
export type AdminRunner = {
  mode: 'in-process' | 'channel';
  call(request: AdminRequest): Promise<unknown>;
  close(): Promise<void>;
};

/**
 * In-process when the CLI can open the database itself (PostgreSQL admits many clients; the
 * embedded data dir when no server holds it); through `DATA_DIR/admin.sock` when a running server
 * holds the embedded database.
 */
export async function openAdminRunner(env: Env, log: Logger): Promise<AdminRunner> {
  const dataDir = resolve(env.DATA_DIR);
  let database: Database;
  try {
    database = await openDatabase(
      env.DATABASE_URL ? { url: env.DATABASE_URL, maxConnections: 2 } : { dataDir },
    );
  } catch (err) {
    const owner = err instanceof AppError ? err.extra.owner_pid : undefined;
    if (owner === undefined) throw err;
    const socket = adminSocketPath(dataDir);
    return {
      mode: 'channel',
      call: (request) =>
        callAdminChannel(socket, request).catch((cause: unknown) => {
          if (cause instanceof AppError && cause.appCode === 'SERVICE_UNAVAILABLE') {
            throw new AppError(
              'SERVICE_UNAVAILABLE',
              `The embedded database in ${dataDir} is in use by process ${owner}, and its admin channel does not answer: ${cause.message}`,
              { owner_pid: owner },
            );
          }
          throw cause;
        }),
      close: async () => {},
    };
  }
  const deps = await inProcessDeps(env, log, database, dataDir).catch(async (err: unknown) => {
    await database.close();
    throw err;
  });
  return {
    mode: 'in-process',
    call: (request) => invokeAdmin(deps, request),
    async close() {
      await deps.bus.close();
      await database.close();
    },
  };
}

/** The same long-lived services the server builds, for one command. */
async function inProcessDeps(env: Env, log: Logger, database: Database, dataDir: string): Promise<AppDeps> {
  // The CLI may be the first to touch a fresh DATA_DIR or database.
  await database.migrate();
  const secret = loadSecretKey(env.PORTAL_SECRET_KEY, dataDir);
  const bus = await createBus({ redisUrl: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX, log });
  return createAppDeps({ env, log, database, bus, secretKey: secret.key });
}
