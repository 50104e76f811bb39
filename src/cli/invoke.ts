import { z } from 'zod';
import { AppError } from '../core/errors';
import type { Db } from '../db/client';
import type { AppDeps } from '../deps';
import { appRouter, createCaller } from '../routers/_app';
import { createContextInner } from '../routers/context';
import { SYSTEM_ACTOR, type SystemActor, type UserActor } from '../services/auth/actor';
import { toUserActor } from '../services/auth/resolve';
import { findUserByUsername } from '../services/users/accounts';
import { LEVEL, STATE } from '../services/users/policy';

// One way into the admin router for the CLI, whether it runs in-process or through the running
// server's admin channel: the same actor rules and the same createCaller either way.

/** A call of one admin procedure, by its path under the `admin` router (e.g. `users.ban`). */
export const ZAdminRequest = z.object({
  path: z.string().min(1).max(100),
  input: z.unknown().optional(),
  as: z.string().min(1).max(64).optional(),
});
export type AdminRequest = z.infer<typeof ZAdminRequest>;

const ADMIN_PATHS = new Set(
  Object.keys(appRouter._def.procedures)
    .filter((p) => p.startsWith('admin.'))
    .map((p) => p.slice('admin.'.length)),
);

/**
 * `--as <username>` runs the command as that admin, with the hierarchy of their level; without it
 * the CLI acts as the built-in system owner. Only Admins and Owners may be named.
 */
export async function resolveCliActor(db: Db, as: string | undefined): Promise<UserActor | SystemActor> {
  if (as === undefined) return SYSTEM_ACTOR;
  const user = await findUserByUsername(db, as);
  // `as` names which user was missing: the command's own target may exist.
  if (!user) throw new AppError('NOT_FOUND', 'User not found', { as });
  if (user.permissionLevel < LEVEL.ADMIN) throw new AppError('FORBIDDEN', 'Admin access required');
  if (user.state === STATE.BANNED) throw new AppError('FORBIDDEN', 'Your account has been banned');
  return toUserActor(user, 'cli');
}

export async function invokeAdmin(deps: AppDeps, request: AdminRequest): Promise<unknown> {
  if (!ADMIN_PATHS.has(request.path))
    throw new AppError('NOT_FOUND', `Unknown admin command: ${request.path}`);
  const actor = await resolveCliActor(deps.database.db, request.as);
  // Rate limits belong to HTTP; nothing here passes through them.
  const caller = createCaller(
    createContextInner({ deps, transport: 'cli', ip: 'cli', auth: { actor, rateSubject: 'cli' } }),
  );
  let procedure: unknown = caller.admin;
  for (const part of request.path.split('.')) procedure = (procedure as Record<string, unknown>)[part];
  return (procedure as (input: unknown) => Promise<unknown>)(request.input);
}
