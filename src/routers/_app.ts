import { adminRouter } from './admin/router';
import { authRouter } from './auth/router';
import { botRouter } from './bot/router';
import { healthRouter } from './health/router';
import { keysRouter } from './keys/router';
import { sessionsRouter } from './sessions/router';
import { createCallerFactory, router } from './trpc';
import { twoFactorRouter } from './two-factor/router';
import { usersRouter } from './users/router';

export const appRouter = router({
  health: healthRouter,
  users: usersRouter,
  auth: authRouter,
  bot: botRouter,
  admin: adminRouter,
  sessions: sessionsRouter,
  keys: keysRouter,
  twoFactor: twoFactorRouter,
});

/** What typed TS clients import: `createTRPCClient<AppRouter>`. */
export type AppRouter = typeof appRouter;

export const createCaller = createCallerFactory(appRouter);
