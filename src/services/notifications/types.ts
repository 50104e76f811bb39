import { z } from 'zod';
import type { notifications } from '../../db/schema';

// What a notification is (API.md §4), shared by the service, the routers and the /ws/portal hub.

/** Every source of API.md §4; `type` of a notification is always one of these. */
export const NOTIFICATION_TYPES = [
  'stream_live',
  'dm_message',
  'mention',
  'security',
  'service_alert',
  'moderation',
  'announcement',
  'admin',
] as const;

export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export const NOTIFICATION_LIMITS = { title: 200, message: 4000, link: 2000 } as const;

/**
 * A link the web client can render safely: a same-site path (`/streams/3`, not `//evil`) or an
 * http(s) URL. `javascript:` and friends never get stored.
 */
export const ZNotificationLink = z
  .string()
  .trim()
  .min(1)
  .max(NOTIFICATION_LIMITS.link)
  .refine((s) => (s.startsWith('/') && !s.startsWith('//')) || /^https?:\/\/[^\s]+$/i.test(s), {
    message: 'link must be a path starting with / or an http(s) URL',
  });

export const ZNotificationTitle = z.string().trim().min(1).max(NOTIFICATION_LIMITS.title);
export const ZNotificationMessage = z.string().trim().min(1).max(NOTIFICATION_LIMITS.message);

type NotificationRow = typeof notifications.$inferSelect;

/** The one shape of a notification, over REST and in the `/ws/portal` `notification` message. */
export const notificationView = (
  row: Pick<NotificationRow, 'id' | 'type' | 'title' | 'message' | 'link' | 'data' | 'readAt' | 'createdAt'>,
) => ({
  id: row.id,
  type: row.type as NotificationType,
  title: row.title,
  message: row.message,
  link: row.link,
  data: row.data ?? null,
  read: row.readAt !== null,
  // Seed 002 names the flag `is_read`; both spellings are served so either client works.
  is_read: row.readAt !== null,
  created_at: row.createdAt.toISOString(),
});

export type NotificationView = ReturnType<typeof notificationView>;

/** The Bus topic every node subscribes to once; the /ws/portal hub fans messages out locally. */
export const NOTIFY_TOPIC = 'notify';

/** Bus messages on NOTIFY_TOPIC: one notification event for some users, or for everyone. */
export type NotifyBusMessage =
  | { kind: 'users'; user_ids: number[]; notification: NotificationView }
  | { kind: 'all'; notification: NotificationView };
