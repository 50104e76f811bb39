import type { Context } from '../context';

// What the rooms services need from a request, in one place for every rooms sub-router.

type Ctx = Pick<Context, 'db' | 'log' | 'deps'>;

/** Database, Bus, browsers, secrets and limits: everything any rooms service takes. */
export const roomDeps = (ctx: Ctx) => ({
  db: ctx.db,
  bus: ctx.deps.bus,
  log: ctx.log,
  browsers: ctx.deps.browsers,
  secretBox: ctx.deps.secretBox,
  secretKey: ctx.deps.secretKey,
  rateLimiter: ctx.deps.rateLimiter,
  env: ctx.deps.env,
  stopBrowser: ctx.deps.browsers.halt,
});

/** The signed-in caller as the rooms services see them. */
export const callerOf = ({ actor }: { actor: { userId: number; level: number; username: string } }) => ({
  userId: actor.userId,
  level: actor.level,
  username: actor.username,
});
