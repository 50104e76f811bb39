import { z } from 'zod';
import {
  endCurrentSession,
  lookupLoginRequest,
  otpConfigFrom,
  requestLoginCode,
  verifyLoginCode,
} from '../../services/auth/otp';
import { ZIsoDate, ZSuccess, ZUsername } from '../fields';
import { authedProcedure, publicProcedure } from '../trpc';
import { ZOwnProfile } from '../users/schemas';

// OTP login of API.md §1 (seed 000 "OTP request, lookup, verify, logout"), spread into `auth`.

const tags = ['Authentication'];
const login = publicProcedure.meta({ rateTier: 'LOGIN' });

const ZRequestId = z.string().trim().min(1).max(64);

export const otpProcedures = {
  request: login
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/request',
        tags,
        protect: false,
        summary: 'Request a 6-digit login code (delivered by a bot linked to the user; valid 5 minutes)',
      },
    })
    .input(z.object({ username: ZUsername }))
    .output(z.object({ request_id: z.string(), expires_at: ZIsoDate }))
    .mutation(({ ctx, input }) =>
      requestLoginCode({
        config: otpConfigFrom(ctx.deps.env),
        db: ctx.db,
        secretKey: ctx.deps.secretKey,
        box: ctx.deps.secretBox,
        username: input.username,
        ip: ctx.ip,
      }),
    ),

  lookup: login
    .meta({
      openapi: {
        method: 'GET',
        path: '/auth/lookup/{request_id}',
        tags,
        protect: false,
        summary: 'Status of a login request',
      },
    })
    .input(z.object({ request_id: ZRequestId }))
    .output(
      z.object({
        status: z.enum(['pending', 'delivered', 'expired', 'used']),
        delivered_via: z.string().nullable().describe('Name of the bot that delivered the code'),
      }),
    )
    .query(({ ctx, input }) =>
      lookupLoginRequest({ db: ctx.db, requestId: input.request_id, config: otpConfigFrom(ctx.deps.env) }),
    ),

  verify: login
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/verify',
        tags,
        protect: false,
        summary: 'Exchange a login code (and TOTP or backup code when 2FA is on) for a session',
      },
    })
    .input(
      z.object({
        request_id: ZRequestId,
        code: z.string().trim().min(1).max(32),
        totp_code: z.string().trim().max(32).optional().describe('TOTP code or unused backup code'),
      }),
    )
    .output(z.object({ user: ZOwnProfile, token: z.string(), expires_at: ZIsoDate }))
    .mutation(async ({ ctx, input }) => {
      const result = await verifyLoginCode({
        bus: ctx.deps.bus,
        log: ctx.log,
        config: otpConfigFrom(ctx.deps.env),
        db: ctx.db,
        secretKey: ctx.deps.secretKey,
        box: ctx.deps.secretBox,
        requestId: input.request_id,
        code: input.code,
        totpCode: input.totp_code,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
      });
      ctx.sessionCookie.set(result.token, new Date(result.expires_at));
      return result;
    }),

  logout: authedProcedure
    .meta({
      rateTier: 'LOGIN',
      allowWhileRestricted: true,
      openapi: { method: 'POST', path: '/auth/logout', tags, summary: 'End the current session' },
    })
    .input(z.void())
    .output(ZSuccess)
    .mutation(async ({ ctx }) => {
      const result = await endCurrentSession({ db: ctx.db, sessionId: ctx.actor.sessionId });
      ctx.sessionCookie.clear();
      return result;
    }),
};
