import { listActivity } from '../../services/activity/activity';
import { authedProcedure, router } from '../trpc';
import { ZActivityFeed, ZActivityInput } from './schemas';

export const activityRouter = router({
  feed: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/activity',
        tags: ['Activity'],
        summary: 'Recent activity, newest first: everyone’s for Admins, your own otherwise',
      },
    })
    .input(ZActivityInput)
    .output(ZActivityFeed)
    .query(({ ctx, input }) => listActivity({ db: ctx.db, viewer: ctx.actor, limit: input.limit })),
});
