import { z } from 'zod';
import { STREAM_LIMITS } from '../../services/streams/types';
import { MAX_ID, pageFields, pageOutputFields, typed, ZId, ZIsoDate } from '../fields';

// Inputs and outputs of the streams router (API.md §7, seed 002 "User Streams"); outputs mirror
// services/streams/views.ts.

const ZTitle = z.string().trim().min(1).max(STREAM_LIMITS.TITLE_MAX);
const ZDescription = z.string().trim().max(STREAM_LIMITS.DESCRIPTION_MAX);

export const ZStreamId = z.object({ id: ZId });

export const ZCreateStreamInput = z.object({
  title: ZTitle,
  description: ZDescription.optional(),
  is_public: z.boolean().optional().describe('Visible to all users (default true)'),
  rtmp_enabled: z.boolean().optional().describe('Allow plain RTMP with temporary tokens (default false)'),
});

export const ZUpdateStreamInput = z.object({
  id: ZId,
  title: ZTitle.optional(),
  description: ZDescription.optional(),
  is_public: z.boolean().optional(),
  rtmp_enabled: z.boolean().optional(),
});

export const ZStreamPage = z.object(pageFields(100, 50));

export const ZBanInput = z.object({
  id: ZId,
  user_id: z.number(typed('an integer')).int({ error: 'must be an integer' }).min(1).max(MAX_ID),
  reason: z.string().trim().max(STREAM_LIMITS.BAN_REASON_MAX).nullish(),
});

export const ZUnbanInput = z.object({ id: ZId, user_id: ZId });

// ── outputs ──────────────────────────────────────────────────────────────────────────────

export const ZStream = z.object({
  id: z.number().int(),
  user_id: z.number().int(),
  username: z.string(),
  title: z.string(),
  description: z.string(),
  is_live: z
    .union([z.literal(0), z.literal(1), z.literal(2)])
    .describe('0 offline, 1 live, 2 encoding (VOD finalisation)'),
  is_public: z.boolean(),
  rtmp_enabled: z.boolean(),
  viewer_count: z.number().int(),
  chat_channel_id: z.number().int().nullable(),
  playback_key: z.string().describe('`pub_…`: names the stream in playback URLs; not a credential'),
  playback_urls: z.object({ hls: z.string(), webrtc: z.string() }),
  thumbnail_url: z.string(),
  has_thumbnail: z.boolean().describe('An uploaded static thumbnail exists'),
  started_at: ZIsoDate.nullable(),
  ended_at: ZIsoDate.nullable(),
  created_at: ZIsoDate,
  updated_at: ZIsoDate,
  stream_key: z.string().optional().describe('`live_…` publish key: owner only, keep it secret'),
  publish_urls: z
    .object({
      rtmps: z.string(),
      rtmp: z.string().nullable().describe('Plain RTMP (use an RTMP token as key); null unless enabled'),
      whip: z.string().describe('WHIP through Portal; contains the publish key'),
    })
    .optional()
    .describe('Owner only'),
});

export const ZStreamList = z.object({ streams: z.array(ZStream) });
export const ZStreamPageOutput = z.object({ streams: z.array(ZStream), ...pageOutputFields });
export const ZFollowedPage = z.object({
  streams: z.array(ZStream),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const ZRtmpToken = z.object({
  token: z.string().describe('`rtmp_…`: use as the stream key in the encoder; single use'),
  expires_in: z.number().int().describe('Seconds to start publishing with it'),
  expires_at: ZIsoDate,
  rtmp_url: z.string(),
});

export const ZFollowState = z.object({ success: z.literal(true), following: z.boolean() });

export const ZStreamBan = z.object({
  user_id: z.number().int(),
  username: z.string(),
  reason: z.string().nullable(),
  banned_by: z.number().int().nullable(),
  created_at: ZIsoDate,
});

export const ZStreamBanList = z.object({ bans: z.array(ZStreamBan) });
