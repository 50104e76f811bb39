import { createChannel, deleteChannel, listChannels, updateChannel } from '../../services/chat/channels';
import { addMember, listMembers, removeMember, setMemberRole } from '../../services/chat/members';
import { ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';
import { chatActor, chatDeps } from './deps';
import { chatMessagesRouter } from './messages';
import {
  ZAddMemberInput,
  ZChannel,
  ZChannelId,
  ZChannelList,
  ZChannelMemberList,
  ZChannelPageInput,
  ZCreateChannelInput,
  ZMemberPageInput,
  ZMemberRef,
  ZSetMemberRoleInput,
  ZUpdateChannelInput,
} from './schemas';

const tags = ['Chat'];

/** Channels of API.md §8 (seed 002 "Chat/Forum", "Channel Permissions", "Channel Members"). */
const channelsRouter = router({
  list: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/api/chat/channels', tags, summary: 'Channels the caller may read' },
    })
    .input(ZChannelPageInput)
    .output(ZChannelList)
    .query(({ ctx, input }) => listChannels(chatDeps(ctx), chatActor(ctx), input)),

  create: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/chat/channels',
        tags,
        summary: 'Create a channel (public: Admin+; private: anyone; 10 per user)',
      },
    })
    .input(ZCreateChannelInput)
    .output(ZChannel)
    .mutation(({ ctx, input }) => createChannel(chatDeps(ctx), chatActor(ctx), input)),

  update: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/api/chat/channels/{id}',
        tags,
        summary: 'Rename or reconfigure a channel (Admin+ or its moderators)',
      },
    })
    .input(ZUpdateChannelInput)
    .output(ZChannel)
    .mutation(({ ctx, input: { id, ...patch } }) => updateChannel(chatDeps(ctx), chatActor(ctx), id, patch)),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/api/chat/channels/{id}',
        tags,
        summary: 'Delete a channel (Admin+ or its creator; not the default channel)',
      },
    })
    .input(ZChannelId)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => deleteChannel(chatDeps(ctx), chatActor(ctx), input.id)),

  members: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/api/chat/channels/{id}/members', tags, summary: 'Channel members' },
    })
    .input(ZMemberPageInput)
    .output(ZChannelMemberList)
    .query(({ ctx, input: { id, ...page } }) => listMembers(chatDeps(ctx), chatActor(ctx), id, page)),

  addMember: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/chat/channels/{id}/members',
        tags,
        summary: 'Add a member (Admin+, creator or channel moderator)',
      },
    })
    .input(ZAddMemberInput)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => addMember(chatDeps(ctx), chatActor(ctx), input.id, input.user_id)),

  setMemberRole: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/api/chat/channels/{id}/members/{user_id}',
        tags,
        summary: "Change a member's role (Admin+ or creator)",
      },
    })
    .input(ZSetMemberRoleInput)
    .output(ZSuccess)
    .mutation(({ ctx, input }) =>
      setMemberRole(chatDeps(ctx), chatActor(ctx), input.id, input.user_id, input.role),
    ),

  removeMember: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/api/chat/channels/{id}/members/{user_id}',
        tags,
        summary: 'Remove a member (Admin+, creator or channel moderator; anyone may leave)',
      },
    })
    .input(ZMemberRef)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => removeMember(chatDeps(ctx), chatActor(ctx), input.id, input.user_id)),
});

export const chatRouter = router({ channels: channelsRouter, messages: chatMessagesRouter });
