import { z } from 'zod';
import { leaveMatch } from '../../services/match/direct-rooms';
import { dequeueMatch, enqueueMatch, getMatchStatus } from '../../services/match/queue';
import { matchDepsOf } from '../../services/match/types';
import { ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';
import { ZDequeueResult, ZEnqueueInput, ZEnqueueResult, ZMatchStatus } from './schemas';

const tags = ['Match'];

/**
 * 1-on-1 random matchmaking (API.md §5). A timed-out user may not enqueue (the `restrictions`
 * middleware), but may still step out of the queue or out of a match: both only end activity.
 */
export const matchRouter = router({
  enqueue: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/match/enqueue', tags, summary: 'Wait for a random partner' } })
    .input(ZEnqueueInput)
    .output(ZEnqueueResult)
    .mutation(({ ctx, input }) =>
      enqueueMatch(matchDepsOf(ctx.deps), { userId: ctx.actor.userId, ...input }),
    ),

  dequeue: authedProcedure
    .meta({
      openapi: { method: 'POST', path: '/match/dequeue', tags, summary: 'Stop waiting' },
      allowWhileRestricted: true,
    })
    .input(z.void())
    .output(ZDequeueResult)
    .mutation(({ ctx }) => dequeueMatch(ctx, ctx.actor.userId)),

  leave: authedProcedure
    .meta({
      openapi: { method: 'POST', path: '/match/leave', tags, summary: 'Leave the matched direct chat' },
      allowWhileRestricted: true,
    })
    .input(z.void())
    .output(ZSuccess)
    .mutation(({ ctx }) => leaveMatch(matchDepsOf(ctx.deps), ctx.actor.userId)),

  status: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/match/status', tags, summary: 'Idle, queued or matched' } })
    .input(z.void())
    .output(ZMatchStatus)
    .query(({ ctx }) => getMatchStatus(ctx, ctx.actor.userId)),
});
