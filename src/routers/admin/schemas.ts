import { z } from 'zod';
import { ZAuditQuery } from '../../services/audit/list';
import {
  ZNotificationLink,
  ZNotificationMessage,
  ZNotificationTitle,
} from '../../services/notifications/types';
import { accessScopeList, ZDisplayName, ZPassword, ZUsername } from '../fields';

// Inputs of the admin router (API.md §10). Not REST: no openapi meta, typed tRPC and the CLI only.

/** Targets are looked up without regard to case; only the length is checked here. */
const ZTarget = z.string().trim().min(1).max(64);
const ZReason = z.string().trim().min(1).max(500).optional();

/** User levels that can be assigned: User 0, Admin 2, Owner 3 (seed 003). */
export const ZLevel = z.literal([0, 2, 3]);

export const ZUserAction = z.object({ username: ZTarget, reason: ZReason });

export const ZCreateUserInput = z.object({
  username: ZUsername,
  password: ZPassword.optional(),
  level: ZLevel.optional(),
});

export const ZTimeoutInput = ZUserAction.extend({ minutes: z.number().int().min(1).max(525_600) });

export const ZSetLevelInput = ZUserAction.extend({ level: ZLevel });

/** `access:*` or a comma-separated list of `access:<service category>`; empty removes every service. */
export const ZScopes = accessScopeList(
  'scopes must be access:* or a comma-separated list of access:<category>',
);

export const ZSetScopesInput = z.object({ username: ZTarget, scopes: ZScopes });

export const ZGrantInput = z.object({
  username: ZTarget,
  tier: z.enum(['trial', 'premium', 'lifetime']),
  days: z.number().int().min(1).max(36_500).optional(),
});

export const ZRevokeInput = ZUserAction;

export const ZBotType = z.enum(['official', 'verified', 'community']);

const ZRateLimitPerHour = z.number().int().min(1).max(10_000_000);

export const ZCreateBotInput = z.object({
  name: ZDisplayName,
  type: ZBotType.optional(),
  rateLimitPerHour: ZRateLimitPerHour.optional(),
  owner: ZTarget.optional(),
});

export const ZBotId = z.number().int().positive();

export const ZSetBotTypeInput = z.object({ botId: ZBotId, type: ZBotType });

export const ZSetBotRateLimitInput = z.object({ botId: ZBotId, perHour: ZRateLimitPerHour });

export const ZCreateAnnouncementInput = z.object({
  title: z.string().trim().min(1).max(100),
  message: z.string().trim().min(1).max(4000),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});

export const ZDeleteAnnouncementInput = z.object({ id: z.number().int().positive() });

/** `broadcast`: type `admin` to every user (API.md §10). */
export const ZBroadcastInput = z.object({
  title: ZNotificationTitle,
  message: ZNotificationMessage,
  link: ZNotificationLink.optional(),
});

/** `notify <username>`: type `admin` to one user. */
export const ZNotifyUserInput = ZBroadcastInput.extend({ username: ZTarget });

/** Filters of the audit log (services/audit/list.ts); nothing given lists the newest 50. */
export const ZAuditListInput = ZAuditQuery.prefault({});
