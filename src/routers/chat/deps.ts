import type { Context } from '../context';

// What the chat services need from a request, in one place for every chat sub-router.

export const chatDeps = (ctx: Pick<Context, 'db' | 'log' | 'deps'>) => ({
  db: ctx.db,
  bus: ctx.deps.bus,
  log: ctx.log,
  secretBox: ctx.deps.secretBox,
  secretKey: ctx.deps.secretKey,
  rateLimiter: ctx.deps.rateLimiter,
  env: ctx.deps.env,
});

/** The signed-in caller as the chat services see them. */
export const chatActor = ({ actor }: { actor: { userId: number; level: number; username: string } }) => ({
  userId: actor.userId,
  level: actor.level,
  username: actor.username,
});
