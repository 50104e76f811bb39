import {
  getRoomClipboard,
  putRoomClipboard,
  startRoomBrowser,
  stopRoomBrowser,
} from '../../services/rooms/browser';
import { createInvite, deleteInvite, joinByInvite, listInvites } from '../../services/rooms/invites';
import { setMemberRole } from '../../services/rooms/members';
import {
  createRoom,
  destroyRoom,
  getRoom,
  leaveRoom,
  listMembers,
  listRooms,
  updateRoomConfig,
} from '../../services/rooms/rooms';
import { ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';
import { callerOf, roomDeps } from './deps';
import { roomKeysRouter } from './keys';
import { roomMessagesRouter } from './messages';
import { roomModerationRouter } from './moderation';
import {
  ZClipboard,
  ZClipboardInput,
  ZConfigInput,
  ZCreateInviteInput,
  ZCreateRoomInput,
  ZInvite,
  ZInviteList,
  ZInviteRef,
  ZJoinInput,
  ZMemberList,
  ZPage,
  ZRoleResult,
  ZRoom,
  ZRoomId,
  ZRoomList,
  ZRoomPage,
  ZSetRoleInput,
} from './schemas';

const tags = ['Chats'];

/** The Portal "chats" of API.md §5: rooms with members, invites and a shared browser. */
export const roomsRouter = router({
  create: authedProcedure
    .meta({
      openapi: { method: 'POST', path: '/chats', tags, summary: 'Create a chat (needs a free chat slot)' },
    })
    .input(ZCreateRoomInput)
    .output(ZRoom)
    .mutation(({ ctx, input }) => createRoom(roomDeps(ctx), callerOf(ctx), input)),

  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/chats', tags, summary: "The caller's chats" } })
    .input(ZPage)
    .output(ZRoomList)
    .query(({ ctx, input }) => listRooms(ctx.db, { userId: ctx.actor.userId, ...input })),

  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/chats/{id}', tags, summary: 'One chat (members only)' } })
    .input(ZRoomId)
    .output(ZRoom)
    .query(({ ctx, input }) => getRoom(ctx.db, input.id, ctx.actor.userId)),

  config: authedProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/chats/{id}/config',
        tags,
        summary: 'Change the configuration (owner)',
      },
    })
    .input(ZConfigInput)
    .output(ZRoom)
    .mutation(({ ctx, input: { id, ...patch } }) =>
      updateRoomConfig(roomDeps(ctx), callerOf(ctx), id, patch),
    ),

  start: authedProcedure
    .meta({
      openapi: { method: 'POST', path: '/chats/{id}/start', tags, summary: 'Start the shared browser' },
    })
    .input(ZRoomId)
    .output(ZRoom)
    .mutation(({ ctx, input }) => startRoomBrowser(roomDeps(ctx), callerOf(ctx), input.id)),

  stop: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/chats/{id}/stop', tags, summary: 'Stop the shared browser' } })
    .input(ZRoomId)
    .output(ZRoom)
    .mutation(({ ctx, input }) => stopRoomBrowser(roomDeps(ctx), callerOf(ctx), input.id)),

  destroy: authedProcedure
    .meta({ openapi: { method: 'DELETE', path: '/chats/{id}', tags, summary: 'Destroy the chat (owner)' } })
    .input(ZRoomId)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => destroyRoom(roomDeps(ctx), callerOf(ctx), input.id)),

  leave: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/chats/{id}/leave', tags, summary: 'Leave the chat' } })
    .input(ZRoomId)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => leaveRoom(roomDeps(ctx), ctx.actor.userId, input.id)),

  members: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/chats/{id}/members', tags, summary: 'Members and their roles' },
    })
    .input(ZRoomPage)
    .output(ZMemberList)
    .query(({ ctx, input: { id, ...page } }) => listMembers(ctx.db, id, ctx.actor.userId, page)),

  setRole: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/chats/{id}/members/{user_id}',
        tags,
        summary: "Set a member's role (owner)",
      },
    })
    .input(ZSetRoleInput)
    .output(ZRoleResult)
    .mutation(({ ctx, input }) =>
      setMemberRole(roomDeps(ctx), callerOf(ctx), input.id, input.user_id, input.role),
    ),

  createInvite: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/chats/{id}/invites',
        tags,
        summary: 'Create an invite (moderator+)',
      },
    })
    .input(ZCreateInviteInput)
    .output(ZInvite)
    .mutation(({ ctx, input: { id, ...opts } }) => createInvite(ctx.db, callerOf(ctx), id, opts)),

  invites: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/chats/{id}/invites', tags, summary: 'Active invites (moderator+)' },
    })
    .input(ZRoomPage)
    .output(ZInviteList)
    .query(({ ctx, input: { id, ...page } }) => listInvites(ctx.db, callerOf(ctx), id, page)),

  deleteInvite: authedProcedure
    .meta({
      openapi: { method: 'DELETE', path: '/chats/{id}/invites/{code}', tags, summary: 'Revoke an invite' },
    })
    .input(ZInviteRef)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => deleteInvite(ctx.db, callerOf(ctx), input.id, input.code)),

  join: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/chats/join/{code}',
        tags,
        summary: 'Join a chat with an invite code',
      },
    })
    .input(ZJoinInput)
    .output(ZRoom)
    .mutation(({ ctx, input }) => joinByInvite(roomDeps(ctx), ctx.actor.userId, input.code)),

  clipboard: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/chats/{id}/clipboard', tags, summary: 'The room clipboard' } })
    .input(ZRoomId)
    .output(ZClipboard)
    .query(({ ctx, input }) => getRoomClipboard(roomDeps(ctx), ctx.actor.userId, input.id)),

  setClipboard: authedProcedure
    .meta({
      openapi: { method: 'PUT', path: '/chats/{id}/clipboard', tags, summary: 'Write the room clipboard' },
    })
    .input(ZClipboardInput)
    .output(ZClipboard)
    .mutation(({ ctx, input }) => putRoomClipboard(roomDeps(ctx), callerOf(ctx), input.id, input.text)),

  messages: roomMessagesRouter,
  keys: roomKeysRouter,
  moderation: roomModerationRouter,
});
