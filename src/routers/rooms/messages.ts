import {
  clearRoomMessages,
  deleteRoomMessage,
  listRoomMessages,
  sendRoomMessage,
} from '../../services/rooms/messages';
import { ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';
import { callerOf, roomDeps } from './deps';
import {
  ZClearResult,
  ZMessageHistoryInput,
  ZMessageRef,
  ZRoomMessage,
  ZRoomMessagePage,
  ZSendMessageInput,
} from './message-schemas';
import { ZRoomId } from './schemas';

const tags = ['Chat'];

/** Room chat of API.md §5: send, history, delete, clear. */
export const roomMessagesRouter = router({
  send: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/chats/{id}/messages',
        tags,
        summary: 'Send a message: plain content, or ciphertext + nonce + key_ids (end-to-end)',
      },
    })
    .input(ZSendMessageInput)
    .output(ZRoomMessage)
    .mutation(({ ctx, input: { id, ...body } }) => sendRoomMessage(roomDeps(ctx), callerOf(ctx), id, body)),

  history: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/chats/{id}/messages', tags, summary: 'Message history (members)' },
    })
    .input(ZMessageHistoryInput)
    .output(ZRoomMessagePage)
    .query(({ ctx, input: { id, ...page } }) => listRoomMessages(roomDeps(ctx), ctx.actor.userId, id, page)),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/chats/{id}/messages/{message_id}',
        tags,
        summary: 'Delete a message (your own, or any as moderator+)',
      },
    })
    .input(ZMessageRef)
    .output(ZSuccess)
    .mutation(({ ctx, input }) =>
      deleteRoomMessage(roomDeps(ctx), callerOf(ctx), input.id, input.message_id),
    ),

  clear: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/chats/{id}/messages/clear',
        tags,
        summary: 'Delete every message (moderator+)',
      },
    })
    .input(ZRoomId)
    .output(ZClearResult)
    .mutation(({ ctx, input }) => clearRoomMessages(roomDeps(ctx), callerOf(ctx), input.id)),
});
