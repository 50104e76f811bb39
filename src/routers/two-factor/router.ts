import { z } from 'zod';
import {
  disableTwoFactor,
  enableTwoFactor,
  setupTwoFactor,
  twoFactorStatus,
} from '../../services/auth/two-factor';
import { authedProcedure, router } from '../trpc';

const tags = ['Two-factor authentication'];
const ZCode = z.object({ code: z.string().trim().min(1).max(32) });

export const twoFactorRouter = router({
  status: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/api/2fa/status', tags } })
    .input(z.void())
    .output(z.object({ enabled: z.boolean(), backup_codes_remaining: z.number() }))
    .query(({ ctx }) => twoFactorStatus(ctx.db, ctx.actor.userId)),

  setup: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/2fa/setup',
        tags,
        summary: 'New TOTP secret and provisioning URI',
      },
    })
    .input(z.void())
    .output(z.object({ secret: z.string(), provisioning_uri: z.string() }))
    .mutation(({ ctx }) => setupTwoFactor(ctx.db, ctx.deps.secretBox, ctx.actor.userId)),

  enable: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/2fa/enable',
        tags,
        summary: 'Confirm with a code; returns backup codes',
      },
    })
    .input(ZCode)
    .output(z.object({ enabled: z.literal(true), backup_codes: z.array(z.string()) }))
    .mutation(({ ctx, input }) =>
      enableTwoFactor(ctx.db, ctx.deps.secretBox, ctx.actor.userId, input.code, {
        bus: ctx.deps.bus,
        log: ctx.log,
      }),
    ),

  disable: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/2fa/disable',
        tags,
        summary: 'Disable with a code or backup code',
      },
    })
    .input(ZCode)
    .output(z.object({ enabled: z.literal(false) }))
    .mutation(({ ctx, input }) =>
      disableTwoFactor(ctx.db, ctx.deps.secretBox, ctx.actor.userId, input.code, {
        bus: ctx.deps.bus,
        log: ctx.log,
      }),
    ),
});
