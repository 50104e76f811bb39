import { z } from 'zod';
import { AppError } from '../../core/errors';
import { checkReadiness, describeDeployment } from '../../services/health/health';
import { publicProcedure, router } from '../trpc';
import { ZDeployment, ZLiveness, ZReadiness } from './schemas';

const health = publicProcedure.meta({ rateTier: 'HEALTH' }).input(z.void());
const tags = ['Monitoring'];

export const healthRouter = router({
  live: health
    .meta({ openapi: { method: 'GET', path: '/health', tags, protect: false, summary: 'Liveness' } })
    .output(ZLiveness)
    .query(() => ({ status: 'ok' as const })),

  ready: health
    .meta({
      openapi: {
        method: 'GET',
        path: '/health/ready',
        tags,
        protect: false,
        summary: 'Readiness: database and bus reachable (503 otherwise)',
      },
    })
    .output(ZReadiness)
    .query(async ({ ctx }) => {
      const { ready, checks } = await checkReadiness(ctx.deps);
      if (!ready) throw new AppError('SERVICE_UNAVAILABLE', 'Service not ready', { checks });
      return { status: 'ready' as const, checks };
    }),

  deployment: health
    .meta({
      openapi: {
        method: 'GET',
        path: '/health/deployment',
        tags,
        protect: false,
        summary: 'Commit, version, uptime',
      },
    })
    .output(ZDeployment)
    .query(({ ctx }) => describeDeployment(ctx.deps)),
});
