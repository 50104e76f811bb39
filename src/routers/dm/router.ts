import {
  addParticipants,
  createGroup,
  leaveGroup,
  openDirect,
  setMuted,
} from '../../services/dm/conversations';
import { dmHistory } from '../../services/dm/interactions';
import { getConversation, listConversations } from '../../services/dm/list';
import { chatActor, chatDeps } from '../chat/deps';
import { ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';
import {
  ZAddParticipantsInput,
  ZConversationDetail,
  ZConversationId,
  ZConversationList,
  ZConversationPageInput,
  ZCreateConversationInput,
  ZCreatedConversation,
  ZDmHistoryInput,
  ZDmMessagePage,
  ZMuteInput,
  ZMuteResult,
  ZParticipantsResult,
} from './schemas';

const tags = ['Direct Messages'];

/** Direct messages of API.md §8 (seed 002 "Direct Messages"); sending goes through /ws/chat. */
export const dmRouter = router({
  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/dm/conversations',
        tags,
        summary: 'Your conversations, most recent first',
      },
    })
    .input(ZConversationPageInput)
    .output(ZConversationList)
    .query(({ ctx, input }) => listConversations(chatDeps(ctx), ctx.actor.userId, input)),

  create: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/dm/conversations',
        tags,
        summary: '`{user_id}`: the 1:1 conversation (existing or new); `{user_ids, name}`: a group',
      },
    })
    .input(ZCreateConversationInput)
    .output(ZCreatedConversation)
    .mutation(({ ctx, input }) =>
      input.user_id !== undefined
        ? openDirect(chatDeps(ctx), chatActor(ctx), input.user_id)
        : createGroup(chatDeps(ctx), chatActor(ctx), { user_ids: input.user_ids ?? [], name: input.name }),
    ),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/dm/conversations/{id}',
        tags,
        summary: 'A conversation (participants only)',
      },
    })
    .input(ZConversationId)
    .output(ZConversationDetail)
    .query(({ ctx, input }) => getConversation(chatDeps(ctx), ctx.actor.userId, input.id)),

  messages: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/dm/conversations/{id}/messages',
        tags,
        summary: 'Messages, newest first; `before_id` pages back',
      },
    })
    .input(ZDmHistoryInput)
    .output(ZDmMessagePage)
    .query(({ ctx, input: { id, ...page } }) =>
      dmHistory(chatDeps(ctx), chatActor(ctx), { conversation_id: id, ...page }),
    ),

  mute: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/api/dm/conversations/{id}/mute',
        tags,
        summary: 'Mute or unmute notifications',
      },
    })
    .input(ZMuteInput)
    .output(ZMuteResult)
    .mutation(({ ctx, input }) => setMuted(chatDeps(ctx), chatActor(ctx), input.id, input.muted)),

  leave: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/dm/conversations/{id}/leave',
        tags,
        summary: 'Leave a group conversation',
      },
    })
    .input(ZConversationId)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => leaveGroup(chatDeps(ctx), chatActor(ctx), input.id)),

  addParticipants: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/dm/conversations/{id}/participants',
        tags,
        summary: 'Add people to a group conversation (at most 10 in total)',
      },
    })
    .input(ZAddParticipantsInput)
    .output(ZParticipantsResult)
    .mutation(({ ctx, input }) => addParticipants(chatDeps(ctx), chatActor(ctx), input.id, input.user_ids)),
});
