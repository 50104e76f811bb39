import { getBot, listBots, searchBots } from '../../services/bots/directory';
import { publicProcedure, router } from '../trpc';
import { ZBotIdInput, ZBotList, ZBotPageInput, ZBotSearchInput, ZBotView } from './schemas';

const tags = ['Bots'];
const details = 'Public profiles; Admin+ get full details (owner, rate limit, type).';

/**
 * The public bot directory (API.md §2, PUBLIC tier; a session or key is optional and, when sent,
 * validated). `/bots/search` is declared before `/bots/{id}`, which would otherwise match it.
 */
export const botsRouter = router({
  list: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/bots',
        tags,
        protect: false,
        summary: 'List bots',
        description: details,
      },
    })
    .input(ZBotPageInput)
    .output(ZBotList)
    .query(({ ctx, input }) => listBots(ctx.db, { viewer: ctx.auth.actor, ...input })),

  search: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/bots/search',
        tags,
        protect: false,
        summary: 'Search bots by name',
        description: `Case-insensitive substring of the name. ${details}`,
      },
    })
    .input(ZBotSearchInput)
    .output(ZBotList)
    .query(({ ctx, input }) => searchBots(ctx.db, { viewer: ctx.auth.actor, ...input })),

  byId: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/bots/{id}',
        tags,
        protect: false,
        summary: 'A bot',
        description: details,
      },
    })
    .input(ZBotIdInput)
    .output(ZBotView)
    .query(({ ctx, input }) => getBot(ctx.db, { viewer: ctx.auth.actor, id: input.id })),
});
