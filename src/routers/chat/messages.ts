import { getThread, listHistory } from '../../services/chat/history';
import { authedProcedure, router } from '../trpc';
import { chatActor, chatDeps } from './deps';
import { ZHistoryInput, ZMessageId, ZMessagePage, ZThread } from './schemas';

const tags = ['Chat'];

/** Channel history over REST (API.md §8); sending goes through /ws/chat. */
export const chatMessagesRouter = router({
  history: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/chat/channels/{id}/messages',
        tags,
        summary: 'Channel messages, oldest first; `before_id` pages back',
      },
    })
    .input(ZHistoryInput)
    .output(ZMessagePage)
    .query(async ({ ctx, input: { id, ...page } }) => {
      const { messages, has_more } = await listHistory(chatDeps(ctx), chatActor(ctx), { id }, page);
      return { messages, has_more };
    }),

  thread: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/chat/messages/{id}/thread',
        tags,
        summary: 'The reply chain of a message (up to 20 deep, oldest first)',
      },
    })
    .input(ZMessageId)
    .output(ZThread)
    .query(({ ctx, input }) => getThread(chatDeps(ctx), chatActor(ctx), input.id)),
});
