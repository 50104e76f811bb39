import type { AnyRouter } from '@trpc/server';
import { createLogger, type Logger } from '../../src/core/log';
import { createCaller } from '../../src/routers/_app';
import { createContextInner } from '../../src/routers/context';
import { type RunningServer, startServer } from '../../src/server';
import { SYSTEM_ACTOR } from '../../src/services/auth/actor';
import { createTestDatabaseUrl } from './database';
import { makeTempDir, removeDir, testEnv } from './env';

export type TestServer = RunningServer & { dataDir: string; close(): Promise<void> };

/** An in-process server on real sockets: a fresh DATA_DIR, and a fresh database on PostgreSQL runs. */
export async function startTestServer(
  opts: { env?: Record<string, string | undefined>; router?: AnyRouter; log?: Logger } = {},
): Promise<TestServer> {
  const dataDir = makeTempDir();
  const db = await createTestDatabaseUrl();
  const env = testEnv({ DATA_DIR: dataDir, DATABASE_URL: db.url, ...opts.env });
  const server = await startServer(env, {
    log: opts.log ?? createLogger('silent'),
    ...(opts.router && { router: opts.router }),
  });
  return {
    ...server,
    dataDir,
    async close() {
      await server.stop();
      await db.drop();
      removeDir(dataDir);
    },
  };
}

/** Request tiers lifted out of the way, for suites that make many users and calls per test. */
export const NO_REQUEST_LIMITS = {
  RATE_LIMIT_LOGIN: '100000',
  RATE_LIMIT_AUTH: '100000',
  RATE_LIMIT_PUBLIC: '100000',
} as const;

/** The admin router as the admin CLI calls it: in-process, as the built-in system owner. */
export function adminCaller(server: Pick<RunningServer, 'deps'>) {
  return createCaller(
    createContextInner({
      deps: server.deps,
      transport: 'cli',
      ip: 'cli',
      auth: { actor: SYSTEM_ACTOR, rateSubject: 'cli' },
    }),
  ).admin;
}
