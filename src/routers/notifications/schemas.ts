import { z } from 'zod';
import { NOTIFICATION_TYPES } from '../../services/notifications/types';
import { ZInteger as integer, ZIsoDate } from '../fields';

// Inputs and outputs of the notifications router (API.md §4); the output mirrors
// services/notifications/types.ts `notificationView`.

// ── outputs ──────────────────────────────────────────────────────────────────────────────

export const ZNotification = z.object({
  id: z.number().int(),
  type: z.enum(NOTIFICATION_TYPES),
  title: z.string(),
  message: z.string(),
  link: z.string().nullable().describe('A path of this site or an http(s) URL'),
  data: z.record(z.string(), z.unknown()).nullable(),
  read: z.boolean(),
  is_read: z.boolean().describe('Same as `read` (seed 002 spelling)'),
  created_at: ZIsoDate,
});

export const ZNotificationList = z.object({
  notifications: z.array(ZNotification),
  unread_count: z.number().int(),
});

export const ZUnreadCount = z.object({ unread_count: z.number().int() });

export const ZReadAll = z.object({ success: z.literal(true), count: z.number().int() });

// ── inputs ───────────────────────────────────────────────────────────────────────────────

export const ZListInput = z.object({
  unread: z
    .enum(['0', '1', 'true', 'false'])
    .optional()
    .describe('1 (or true) lists only unread notifications'),
  limit: integer().min(1).max(100).default(50),
  before_id: integer().min(1).optional().describe('Only notifications older than this id (paging)'),
});

export const ZNotificationIdInput = z.object({ id: integer().min(1) });
