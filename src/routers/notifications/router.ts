import { z } from 'zod';
import {
  countUnread,
  listNotifications,
  markAllNotificationsRead,
  markNotificationRead,
} from '../../services/notifications/inbox';
import { ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';
import { ZListInput, ZNotificationIdInput, ZNotificationList, ZReadAll, ZUnreadCount } from './schemas';

const tags = ['Notifications'];

const list = authedProcedure.input(ZListInput).output(ZNotificationList);
const unreadCount = authedProcedure.input(z.void()).output(ZUnreadCount);
const markRead = authedProcedure.input(ZNotificationIdInput).output(ZSuccess);
const markAllRead = authedProcedure.input(z.void()).output(ZReadAll);

type ListInput = z.infer<typeof ZListInput>;
const listOptions = (userId: number, input: ListInput) => ({
  userId,
  unreadOnly: input.unread === '1' || input.unread === 'true',
  limit: input.limit,
  beforeId: input.before_id,
});

/**
 * The inbox of API.md §4, at the root (seed 000) and under /api (seed 002): both families reach
 * the same services. New notifications are also pushed over /ws/portal.
 */
export const notificationsRouter = router({
  list: list
    .meta({ openapi: { method: 'GET', path: '/notifications', tags, summary: 'Own notifications' } })
    .query(({ ctx, input }) => listNotifications(ctx.db, listOptions(ctx.actor.userId, input))),

  apiList: list
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/notifications',
        tags,
        summary: 'Own notifications (seed 002 path)',
      },
    })
    .query(({ ctx, input }) => listNotifications(ctx.db, listOptions(ctx.actor.userId, input))),

  unreadCount: unreadCount
    .meta({ openapi: { method: 'GET', path: '/notifications/unread-count', tags, summary: 'Unread count' } })
    .query(async ({ ctx }) => ({ unread_count: await countUnread(ctx.db, ctx.actor.userId) })),

  apiUnreadCount: unreadCount
    .meta({
      openapi: { method: 'GET', path: '/api/notifications/unread-count', tags, summary: 'Unread count' },
    })
    .query(async ({ ctx }) => ({ unread_count: await countUnread(ctx.db, ctx.actor.userId) })),

  markRead: markRead
    .meta({
      openapi: { method: 'POST', path: '/notifications/{id}/read', tags, summary: 'Mark one as read' },
    })
    .mutation(({ ctx, input }) => markNotificationRead(ctx.db, { userId: ctx.actor.userId, id: input.id })),

  apiMarkRead: markRead
    .meta({
      openapi: { method: 'POST', path: '/api/notifications/{id}/read', tags, summary: 'Mark one as read' },
    })
    .mutation(({ ctx, input }) => markNotificationRead(ctx.db, { userId: ctx.actor.userId, id: input.id })),

  markAllRead: markAllRead
    .meta({ openapi: { method: 'POST', path: '/notifications/read-all', tags, summary: 'Mark all as read' } })
    .mutation(({ ctx }) => markAllNotificationsRead(ctx.db, ctx.actor.userId)),

  apiMarkAllRead: markAllRead
    .meta({
      openapi: { method: 'POST', path: '/api/notifications/read-all', tags, summary: 'Mark all as read' },
    })
    .mutation(({ ctx }) => markAllNotificationsRead(ctx.db, ctx.actor.userId)),
});
