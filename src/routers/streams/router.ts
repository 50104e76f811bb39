import { z } from 'zod';
import { banFromStream, listStreamBans, unbanFromStream } from '../../services/streams/bans';
import { followStream, listFollowedStreams, unfollowStream } from '../../services/streams/follows';
import { createRtmpToken } from '../../services/streams/rtmp-tokens';
import {
  createStream,
  deleteStream,
  getStreamView,
  listLiveStreams,
  listMyStreams,
  listPublicStreams,
  regenerateStreamKey,
  updateStream,
} from '../../services/streams/streams';
import type { StreamDeps } from '../../services/streams/types';
import { publicUrlsOf } from '../../services/streams/urls';
import type { Context } from '../context';
import { ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';
import {
  ZBanInput,
  ZCreateStreamInput,
  ZFollowedPage,
  ZFollowState,
  ZRtmpToken,
  ZStream,
  ZStreamBan,
  ZStreamBanList,
  ZStreamId,
  ZStreamList,
  ZStreamPage,
  ZStreamPageOutput,
  ZUnbanInput,
  ZUpdateStreamInput,
} from './schemas';

const tags = ['Streams'];

/** What the stream services need from a request. */
export const streamDeps = (ctx: Pick<Context, 'db' | 'log' | 'deps'>): StreamDeps => ({
  ...ctx.deps,
  db: ctx.db,
  log: ctx.log,
});

type Authed = Pick<Context, 'deps' | 'headers'> & {
  actor: { userId: number; username: string; level: number };
};

const actorOf = (ctx: Authed) => ({
  userId: ctx.actor.userId,
  username: ctx.actor.username,
  level: ctx.actor.level,
});
const urlsOf = (ctx: Authed) => publicUrlsOf(ctx.deps.env, ctx.headers);
const callerOf = (ctx: Authed) => ({ userId: ctx.actor.userId, urls: urlsOf(ctx) });

const path = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', p: `/${string}`, summary: string) => ({
  openapi: { method, path: p, tags, summary },
});

/** User streams of API.md §7 (seed 002 "REST API", "Stream Moderation"). */
export const streamsRouter = router({
  mine: authedProcedure
    .meta(path('GET', '/api/streams', 'Your streams'))
    .input(z.void())
    .output(ZStreamList)
    .query(({ ctx }) => listMyStreams(streamDeps(ctx), actorOf(ctx), urlsOf(ctx))),

  create: authedProcedure
    .meta(path('POST', '/api/streams', 'Create a stream with its keys and chat channel'))
    .input(ZCreateStreamInput)
    .output(ZStream)
    .mutation(({ ctx, input }) => createStream(streamDeps(ctx), actorOf(ctx), input, urlsOf(ctx))),

  public: authedProcedure
    .meta(path('GET', '/api/streams/public', 'Public streams (live, encoding and offline), live first'))
    .input(ZStreamPage)
    .output(ZStreamPageOutput)
    .query(({ ctx, input }) => listPublicStreams(streamDeps(ctx), callerOf(ctx), input)),

  live: authedProcedure
    .meta(path('GET', '/api/streams/live', 'Public streams live now, with viewer counts'))
    .input(ZStreamPage)
    .output(ZStreamPageOutput)
    .query(({ ctx, input }) => listLiveStreams(streamDeps(ctx), callerOf(ctx), input)),

  following: authedProcedure
    .meta(path('GET', '/api/streams/following', 'Public streams you follow'))
    .input(ZStreamPage)
    .output(ZFollowedPage)
    .query(({ ctx, input }) => listFollowedStreams(streamDeps(ctx), actorOf(ctx), urlsOf(ctx), input)),

  get: authedProcedure
    .meta(path('GET', '/api/streams/{id}', 'One stream with its playback URLs'))
    .input(ZStreamId)
    .output(ZStream)
    .query(({ ctx, input }) => getStreamView(streamDeps(ctx), callerOf(ctx), input.id)),

  update: authedProcedure
    .meta(path('PUT', '/api/streams/{id}', 'Change title, description, visibility or plain RTMP'))
    .input(ZUpdateStreamInput)
    .output(ZStream)
    .mutation(({ ctx, input: { id, ...patch } }) =>
      updateStream(streamDeps(ctx), actorOf(ctx), id, patch, urlsOf(ctx)),
    ),

  delete: authedProcedure
    .meta(path('DELETE', '/api/streams/{id}', 'Delete a stream and its chat channel'))
    .input(ZStreamId)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => deleteStream(streamDeps(ctx), actorOf(ctx), input.id)),

  regenerateKey: authedProcedure
    .meta(
      path('POST', '/api/streams/{id}/regenerate-key', 'New publish key; the old one stops working at once'),
    )
    .input(ZStreamId)
    .output(ZStream)
    .mutation(({ ctx, input }) => regenerateStreamKey(streamDeps(ctx), actorOf(ctx), input.id, urlsOf(ctx))),

  rtmpToken: authedProcedure
    .meta(path('POST', '/api/streams/{id}/rtmp-token', 'Temporary single-use token for plain RTMP'))
    .input(ZStreamId)
    .output(ZRtmpToken)
    .mutation(({ ctx, input }) => createRtmpToken(streamDeps(ctx), actorOf(ctx), input.id, urlsOf(ctx))),

  follow: authedProcedure
    .meta(path('POST', '/api/streams/{id}/follow', 'Get stream_live notifications for this stream'))
    .input(ZStreamId)
    .output(ZFollowState)
    .mutation(({ ctx, input }) => followStream(streamDeps(ctx), actorOf(ctx), input.id)),

  unfollow: authedProcedure
    .meta(path('DELETE', '/api/streams/{id}/follow', 'Stop following this stream'))
    .input(ZStreamId)
    .output(ZFollowState)
    .mutation(({ ctx, input }) => unfollowStream(streamDeps(ctx), actorOf(ctx), input.id)),

  bans: authedProcedure
    .meta(path('GET', '/api/streams/{id}/bans', "Users banned from the stream's chat (owner only)"))
    .input(ZStreamId)
    .output(ZStreamBanList)
    .query(({ ctx, input }) => listStreamBans(streamDeps(ctx), actorOf(ctx), input.id)),

  ban: authedProcedure
    .meta(path('POST', '/api/streams/{id}/bans', "Ban a user from the stream's chat (owner only)"))
    .input(ZBanInput)
    .output(ZStreamBan)
    .mutation(({ ctx, input: { id, ...ban } }) => banFromStream(streamDeps(ctx), actorOf(ctx), id, ban)),

  unban: authedProcedure
    .meta(path('DELETE', '/api/streams/{id}/bans/{user_id}', 'Lift a ban (owner only)'))
    .input(ZUnbanInput)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => unbanFromStream(streamDeps(ctx), actorOf(ctx), input.id, input.user_id)),
});
