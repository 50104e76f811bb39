import { parseIsoDate, searchMessages } from '../../services/search/search';
import { authedProcedure, router } from '../trpc';
import { ZSearchInput, ZSearchPage } from './schemas';

/** Message search across readable channels and own DMs (API.md §8); 10 per minute per user. */
export const searchRouter = router({
  messages: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/search',
        tags: ['Search'],
        summary: 'Search messages',
        description:
          'Messages containing every query word, in channels the caller may read and DMs they are in; ' +
          'most occurrences first, then newest. Rate limited to 10 requests per minute per user.',
      },
    })
    .input(ZSearchInput)
    .output(ZSearchPage)
    .query(({ ctx, input }) =>
      searchMessages(
        { ...ctx.deps, db: ctx.db, log: ctx.log },
        { userId: ctx.actor.userId, level: ctx.actor.level },
        {
          q: input.q,
          scope: input.scope,
          channelId: input.channel_id,
          conversationId: input.conversation_id,
          from: input.from,
          hasImage: input.has === 'image',
          before: input.before === undefined ? undefined : parseIsoDate(input.before),
          after: input.after === undefined ? undefined : parseIsoDate(input.after),
          limit: input.limit,
          offset: input.offset,
        },
      ),
    ),
});
