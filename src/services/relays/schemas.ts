import { z } from 'zod';
import { RELAY_PLATFORM_IDS, RELAY_STATES } from './platforms';

// Relay input and output (seed 002 "Stream Relays"): the stream key is write-only.

const RTMP_URL = /^rtmps?:\/\/[^\s/?#@]+(?::\d{1,5})?(\/[^\s]*)?$/i;

export const ZRelayUrl = z
  .string()
  .trim()
  .min(1)
  .max(2000)
  .regex(RTMP_URL, { error: 'rtmp_url must start with rtmp:// or rtmps:// and name a host' });

export const ZRelayKey = z.string().trim().min(1).max(2000).meta({ writeOnly: true });

export const ZCreateRelayInput = z.object({
  platform: z.enum(RELAY_PLATFORM_IDS).describe('Platform ID from /api/relay-platforms'),
  name: z.string().trim().min(1).max(50).describe('Display name for this destination'),
  rtmp_url: ZRelayUrl.describe('RTMP ingest URL (must start with rtmp:// or rtmps://)'),
  stream_key: ZRelayKey.describe('Stream key for the destination platform'),
  enabled: z.boolean().default(true).describe('Whether to relay when live (default: true)'),
});
export type CreateRelayInput = z.infer<typeof ZCreateRelayInput>;

export const ZUpdateRelayInput = z.object({
  name: z.string().trim().min(1).max(50).optional(),
  rtmp_url: ZRelayUrl.optional(),
  stream_key: ZRelayKey.optional(),
  enabled: z.boolean().optional(),
});
export type UpdateRelayInput = z.infer<typeof ZUpdateRelayInput>;

export const ZRelayView = z.object({
  id: z.number(),
  stream_id: z.number(),
  platform: z.enum(RELAY_PLATFORM_IDS),
  name: z.string(),
  rtmp_url: z.string(),
  has_stream_key: z.boolean(),
  enabled: z.boolean(),
  status: z.enum(RELAY_STATES).describe('idle (not relaying), starting, running, retrying (backing off)'),
  last_error: z.string().nullable().describe("The relay process's last error (keys hidden)"),
  status_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type RelayView = z.infer<typeof ZRelayView>;
