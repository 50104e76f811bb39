import { z } from 'zod';
import { SERVICE_PLUGINS } from '../../services/connections/service-plugins';
import { ZHost, ZPort } from '../../services/connections/types';
import { accessScopeList, ZDisplayName } from '../fields';

// Inputs of `admin.services.*` (admin router and CLI) and the outputs of the REST service routes.

/** Extra scopes of a service: a comma-separated list of `access:<name>`; empty = category rules only. */
export const ZServiceScopes = accessScopeList('scopes must be a comma-separated list of access:<name>');

const ZPlugin = z.enum(SERVICE_PLUGINS);
const ZPath = z
  .string()
  .trim()
  .max(255)
  .regex(/^\/[^\s]*$/);
const ZShort = z.string().trim().min(1).max(64);

const fields = {
  name: ZDisplayName,
  plugin: ZPlugin,
  host: ZHost,
  port: ZPort,
  path: ZPath.nullable().optional(),
  icon: ZShort.nullable().optional(),
  category: ZShort.nullable().optional(),
  scopes: ZServiceScopes.optional(),
  enabled: z.boolean().optional(),
  /** ssh services: the login users connect with (secrets sealed, never shown again). */
  login: z.record(z.string(), z.unknown()).nullable().optional(),
};

/** A `terminal` runs on the Portal host: it has no backend address (stored as localhost:0). */
export const ZCreateServiceInput = z
  .object({ ...fields, host: fields.host.optional(), port: fields.port.optional() })
  .superRefine((v, ctx) => {
    if (v.plugin === 'terminal') return;
    if (v.host === undefined) ctx.addIssue({ code: 'custom', path: ['host'], message: 'host is required' });
    if (v.port === undefined) ctx.addIssue({ code: 'custom', path: ['port'], message: 'port is required' });
  });

export const ZUpdateServiceInput = z.object({
  id: z.number().int().positive(),
  name: fields.name.optional(),
  plugin: fields.plugin.optional(),
  host: fields.host.optional(),
  port: fields.port.optional(),
  path: fields.path,
  icon: fields.icon,
  category: fields.category,
  scopes: fields.scopes,
  enabled: fields.enabled,
  login: fields.login,
});

export const ZServiceIdInput = z.object({ id: z.number().int().positive() });

export const ZServiceView = z.object({
  id: z.number(),
  name: z.string(),
  plugin: z.string(),
  path: z.string().nullable(),
  icon: z.string().nullable(),
  category: z.string().nullable(),
  enabled: z.boolean(),
});

export const ZServiceHealth = z.object({
  healthy: z.boolean(),
  latency_ms: z.number().nullable().describe('null when unreachable'),
});
