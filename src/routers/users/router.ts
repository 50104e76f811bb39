import { z } from 'zod';
import { listActiveAnnouncements } from '../../services/announcements/announcements';
import { blockUser, listBlocks, unblockUser } from '../../services/users/blocks';
import { setAnonymous, setAvatar, setNickname, setStatus } from '../../services/users/preferences';
import {
  getOwnProfile,
  getOwnSubscription,
  getUserProfile,
  listOwnPunishments,
  searchChatUsers,
  searchUsers,
} from '../../services/users/profiles';
import { ZSuccess } from '../fields';
import { authedProcedure, publicProcedure, router } from '../trpc';
import {
  ZAnnouncementList,
  ZBlockList,
  ZBlockPageInput,
  ZBlockTargetInput,
  ZChatUserList,
  ZChatUserSearchInput,
  ZOwnProfile,
  ZPageInput,
  ZPunishmentList,
  ZSetAnonymousInput,
  ZSetAvatarInput,
  ZSetNicknameInput,
  ZSetStatusInput,
  ZSubscription,
  ZUserIdInput,
  ZUserSearchInput,
  ZUserSearchResult,
  ZUserView,
} from './schemas';

const tags = ['Users'];
const blockTags = ['Blocking'];

const ownProfile = authedProcedure.input(z.void()).output(ZOwnProfile);

/**
 * Profiles, preferences, blocking and announcements (API.md §1 "Users"). trpc-to-openapi matches
 * paths in declaration order, so `/users/me` and `/users/search` come before `/users/{id}`.
 */
export const usersRouter = router({
  me: ownProfile
    .meta({ openapi: { method: 'GET', path: '/users/me', tags, summary: 'Own profile' } })
    .query(({ ctx }) => getOwnProfile(ctx.db, { userId: ctx.actor.userId, loaded: ctx.auth.userRow })),

  apiMe: ownProfile
    .meta({ openapi: { method: 'GET', path: '/api/me', tags, summary: 'Own profile (seed 002 path)' } })
    .query(({ ctx }) => getOwnProfile(ctx.db, { userId: ctx.actor.userId, loaded: ctx.auth.userRow })),

  subscription: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/users/me/subscription', tags, summary: 'Own subscription' } })
    .input(z.void())
    .output(ZSubscription)
    .query(({ ctx }) => getOwnSubscription(ctx.db, { userId: ctx.actor.userId })),

  punishments: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/users/me/punishments', tags, summary: 'Own moderation history' },
    })
    .input(ZPageInput)
    .output(ZPunishmentList)
    .query(({ ctx, input }) => listOwnPunishments(ctx.db, { userId: ctx.actor.userId, ...input })),

  search: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/users/search',
        tags,
        summary: 'Search users by username or nickname',
        description: 'Public profiles; Admin+ get full details, only of users below their level.',
      },
    })
    .input(ZUserSearchInput)
    .output(ZUserSearchResult)
    .query(({ ctx, input }) => searchUsers(ctx.db, { viewer: ctx.actor, ...input })),

  byId: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/users/{id}',
        tags,
        protect: false,
        summary: 'A user profile',
        description: 'Public profile; Admin+ get full detail with the subscription history.',
      },
    })
    .input(ZUserIdInput)
    .output(ZUserView)
    .query(({ ctx, input }) => getUserProfile(ctx.db, { viewer: ctx.auth.actor, id: input.id })),

  setStatus: authedProcedure
    .meta({ openapi: { method: 'PUT', path: '/api/me/status', tags, summary: 'Set presence status' } })
    .input(ZSetStatusInput)
    .output(ZOwnProfile)
    .mutation(({ ctx, input }) =>
      setStatus(ctx.db, {
        userId: ctx.actor.userId,
        status: input.status,
        statusMessage: input.status_message,
      }),
    ),

  setNickname: authedProcedure
    .meta({
      openapi: { method: 'PUT', path: '/api/me/nickname', tags, summary: 'Set or clear the nickname' },
    })
    .input(ZSetNicknameInput)
    .output(ZOwnProfile)
    .mutation(({ ctx, input }) =>
      setNickname(ctx.db, { userId: ctx.actor.userId, nickname: input.nickname }),
    ),

  setAvatar: authedProcedure
    .meta({
      openapi: { method: 'PUT', path: '/api/me/avatar', tags, summary: 'Set avatar color, emoji, initials' },
    })
    .input(ZSetAvatarInput)
    .output(ZOwnProfile)
    .mutation(({ ctx, input }) => setAvatar(ctx.db, { userId: ctx.actor.userId, ...input })),

  setAnonymous: authedProcedure
    .meta({
      openapi: { method: 'PUT', path: '/api/me/anonymous', tags, summary: 'Toggle anonymous chat mode' },
    })
    .input(ZSetAnonymousInput)
    .output(ZOwnProfile)
    .mutation(({ ctx, input }) =>
      setAnonymous(ctx.db, { userId: ctx.actor.userId, anonymous: input.anonymous }),
    ),

  chatSearch: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/api/chat/users/search', tags, summary: 'Lightweight user search' },
    })
    .input(ZChatUserSearchInput)
    .output(ZChatUserList)
    .query(({ ctx, input }) => searchChatUsers(ctx.db, { q: input.q })),

  blocks: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/api/blocks', tags: blockTags, summary: 'Users you blocked' } })
    .input(ZBlockPageInput)
    .output(ZBlockList)
    .query(({ ctx, input }) => listBlocks(ctx.db, { userId: ctx.actor.userId, ...input })),

  block: authedProcedure
    .meta({
      openapi: { method: 'POST', path: '/api/blocks/{user_id}', tags: blockTags, summary: 'Block a user' },
    })
    .input(ZBlockTargetInput)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => blockUser(ctx.db, { userId: ctx.actor.userId, targetId: input.user_id })),

  unblock: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/api/blocks/{user_id}',
        tags: blockTags,
        summary: 'Unblock a user',
      },
    })
    .input(ZBlockTargetInput)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => unblockUser(ctx.db, { userId: ctx.actor.userId, targetId: input.user_id })),

  announcements: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/announcements',
        tags: ['Announcements'],
        summary: 'Active announcements',
      },
    })
    .input(z.void())
    .output(ZAnnouncementList)
    .query(async ({ ctx }) => ({ announcements: await listActiveAnnouncements(ctx.db) })),
});
