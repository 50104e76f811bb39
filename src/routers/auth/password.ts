import { z } from 'zod';
import { changePassword, registerAccount, signInWithPassword } from '../../services/auth/password-login';
import { ZPassword, ZSuccess, ZUsername } from '../fields';
import { authedProcedure, publicProcedure } from '../trpc';

const tags = ['Authentication'];
const login = publicProcedure.meta({ rateTier: 'LOGIN' });

export const passwordProcedures = {
  token: login
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/token',
        tags,
        protect: false,
        summary: 'Sign in with username and password',
      },
    })
    .input(
      z.object({
        username: z.string().min(1).max(64),
        password: z.string().min(1).max(1024),
        totp_code: z.string().max(32).optional(),
      }),
    )
    .output(
      z.object({
        token: z.string().describe('JWT whose jti is the session id; also set as the session cookie'),
        expires_at: z.string(),
        user: z.object({ id: z.number(), username: z.string(), is_admin: z.boolean() }),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { user, jwt, token, session } = await signInWithPassword(
        ctx.db,
        { ...ctx.deps, log: ctx.log },
        {
          username: input.username,
          password: input.password,
          totpCode: input.totp_code,
          ip: ctx.ip,
          userAgent: ctx.userAgent,
        },
      );
      ctx.sessionCookie.set(token, session.expiresAt);
      return {
        token: jwt,
        expires_at: session.expiresAt.toISOString(),
        user: { id: user.id, username: user.username, is_admin: user.permissionLevel >= 2 },
      };
    }),

  register: login
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/register',
        tags,
        protect: false,
        summary: 'Register with the daily invite code',
      },
    })
    .input(z.object({ username: ZUsername, password: ZPassword, invite_code: z.string().min(1).max(64) }))
    .output(z.object({ id: z.number(), username: z.string(), message: z.literal('Registration successful') }))
    .mutation(async ({ ctx, input }) => {
      const user = await registerAccount(ctx.db, ctx.deps, {
        username: input.username,
        password: input.password,
        inviteCode: input.invite_code,
        ip: ctx.ip,
      });
      return { id: user.id, username: user.username, message: 'Registration successful' as const };
    }),

  changePassword: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/api/me/password',
        tags,
        summary: 'Change password (ends other sessions)',
      },
    })
    .input(z.object({ current_password: z.string().max(1024).default(''), new_password: ZPassword }))
    .output(ZSuccess.extend({ ended_sessions: z.number() }))
    .mutation(async ({ ctx, input }) => {
      const { endedSessions } = await changePassword(ctx.db, {
        bus: ctx.deps.bus,
        log: ctx.log,
        userId: ctx.actor.userId,
        currentPassword: input.current_password,
        newPassword: input.new_password,
        keepSessionId: ctx.actor.sessionId,
      });
      return { success: true as const, ended_sessions: endedSessions };
    }),
};
