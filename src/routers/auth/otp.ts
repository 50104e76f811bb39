import { z } from 'zod';
import { AppError } from '../../core/errors';
import {
  endCurrentSession,
  lookupLoginRequest,
  requestLoginCode,
  verifyLoginCode,
} from '../../services/auth/otp';
import { ZIsoDate, ZSuccess, ZUsername } from '../fields';
import { authedProcedure, publicProcedure } from '../trpc';

// OTP login of API.md §1 (seed 000 "OTP request, lookup, verify, logout"), spread into `auth`.

const tags = ['Authentication'];
const login = publicProcedure.meta({ rateTier: 'LOGIN' });

// Profile shapes of services/users/views.ts; they move to the users router's schemas with it.
const ZAvatar = z.object({ color: z.string(), emoji: z.string().nullable(), initials: z.string().nullable() });

export const ZPublicProfile = z.object({
  id: z.number().int(),
  username: z.string(),
  nickname: z.string().nullable(),
  avatar: ZAvatar,
  status: z.string(),
  status_message: z.string().nullable(),
  is_admin: z.boolean(),
  created_at: ZIsoDate,
});

export const ZOwnProfile = ZPublicProfile.extend({
  permission_level: z.number().int(),
  scopes: z.string(),
  state: z.number().int(),
  anonymous: z.boolean(),
  subscription: z.object({
    tier: z.number().int(),
    has_premium: z.boolean(),
    subscription_expires_at: ZIsoDate.nullable(),
    chat_slots: z.number().int().nullable().describe('null: unlimited'),
  }),
  totp_enabled: z.boolean(),
});

const ZRequestId = z.string().trim().min(1).max(64);

/** The 429 of the pending-code cap carries Retry-After like the tier limits do. */
function passRetryAfter(setHeader: (name: string, value: string) => void, err: unknown): never {
  if (err instanceof AppError && err.status === 429 && typeof err.extra.retry_after === 'number') {
    setHeader('Retry-After', String(err.extra.retry_after));
  }
  throw err;
}

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
        db: ctx.db,
        secretKey: ctx.deps.secretKey,
        box: ctx.deps.secretBox,
        username: input.username,
        ip: ctx.ip,
      }).catch((err: unknown) => passRetryAfter(ctx.setHeader, err)),
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
    .query(({ ctx, input }) => lookupLoginRequest({ db: ctx.db, requestId: input.request_id })),

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
