import { z } from 'zod';

const ZDependencyState = z.enum(['ok', 'unreachable']);

export const ZLiveness = z.object({ status: z.literal('ok') });

export const ZReadiness = z.object({
  status: z.literal('ready'),
  checks: z.object({ database: ZDependencyState, bus: ZDependencyState }),
});

export const ZDeployment = z.object({
  commit: z.string().describe('Git commit of the running build (same as X-Source-Hash)'),
  version: z.string(),
  started_at: z.string().describe('ISO 8601 UTC'),
  uptime_seconds: z.number().int(),
  node_version: z.string(),
});
