import { z } from 'zod';
import { MAX_RETENTION_DAYS } from '../../services/retention/policies';

// Inputs of the operator procedures of the admin router (settings, retention, service log): typed
// tRPC and the CLI only, not REST (API.md §8). Unknown keys and kinds are refused by the services
// with the list of known ones.

const ZName = z.string().trim().min(1).max(64);

export const ZSettingKeyInput = z.object({ key: ZName });
export const ZSettingsGetInput = z.object({ key: ZName.optional() }).default({});
export const ZSettingSetInput = z.object({
  key: ZName,
  value: z.union([z.string().trim().min(1).max(64), z.number(), z.boolean()]),
});

export const ZRetentionSetInput = z.object({
  kind: ZName,
  days: z.number().int().min(1).max(MAX_RETENTION_DAYS).optional(),
  enabled: z.boolean().optional(),
});
export const ZRetentionKindInput = z.object({ kind: ZName });
export const ZRetentionRunInput = z
  .object({ dryRun: z.boolean().default(false), kind: ZName.optional() })
  .default({ dryRun: false });

export const ZServiceChecksInput = z.object({
  id: z.number().int().positive(),
  limit: z.number().int().min(1).max(1000).default(50),
  offset: z.number().int().min(0).default(0),
});
