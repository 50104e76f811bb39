import { z } from 'zod';
import {
  findVisibleService,
  listVisibleServices,
  serviceHealth,
  serviceView,
} from '../../services/connections/shared-services';
import { ZId } from '../fields';
import { authedProcedure, router } from '../trpc';
import { ZServiceHealth, ZServiceView } from './schemas';

const tags = ['Services'];

export const servicesRouter = router({
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/api/services', tags, summary: 'Services you have access to' } })
    .input(z.void())
    .output(z.object({ services: z.array(ZServiceView) }))
    .query(({ ctx }) => listVisibleServices(ctx.db, ctx.actor.scopes)),

  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/api/services/{id}', tags, summary: 'One service' } })
    .input(z.object({ id: ZId }))
    .output(ZServiceView)
    .query(async ({ ctx, input }) =>
      serviceView(await findVisibleService(ctx.db, ctx.actor.scopes, input.id)),
    ),

  health: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/services/{id}/health',
        tags,
        summary: 'Is the backend reachable (3 s timeout, cached 10 s)',
      },
    })
    .input(z.object({ id: ZId }))
    .output(ZServiceHealth)
    .query(async ({ ctx, input }) =>
      serviceHealth(await findVisibleService(ctx.db, ctx.actor.scopes, input.id), {
        terminalEnabled: ctx.deps.env.TERMINAL_ENABLED,
      }),
    ),
});
