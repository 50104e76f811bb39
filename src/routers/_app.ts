import { healthRouter } from './health/router';
import { createCallerFactory, router } from './trpc';

export const appRouter = router({
  health: healthRouter,
});

/** What typed TS clients import: `createTRPCClient<AppRouter>`. */
export type AppRouter = typeof appRouter;

export const createCaller = createCallerFactory(appRouter);
