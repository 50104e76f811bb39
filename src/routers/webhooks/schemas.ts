import { z } from 'zod';
import { WEBHOOK_EVENTS } from '../../services/webhooks/events';
import { URL_MAX } from '../../services/webhooks/target-guard';
import { WEBHOOK_LIMITS, WEBHOOK_TYPES } from '../../services/webhooks/types';
import { ZInteger as integer, MAX_ID, ZId, ZIsoDate } from '../fields';

// Inputs and outputs of the webhooks routers (API.md §8, seed 002 "Webhooks"); outputs mirror
// services/webhooks/views.ts.

const ZName = z.string().trim().min(1).max(WEBHOOK_LIMITS.NAME_MAX);
const ZUrl = z.string().trim().min(1).max(URL_MAX).describe('HTTPS only; private addresses are refused');
const ZEvents = z
  .array(z.enum(WEBHOOK_EVENTS))
  .min(1)
  .max(WEBHOOK_EVENTS.length)
  .describe(`Events to subscribe to: ${WEBHOOK_EVENTS.join(', ')}`);
const ZChannelId = integer().min(1).max(MAX_ID);

// ── outputs ──────────────────────────────────────────────────────────────────────────────

export const ZWebhook = z.object({
  id: z.number().int(),
  name: z.string(),
  type: z.enum(WEBHOOK_TYPES),
  url: z.string().nullable(),
  has_secret: z.boolean(),
  events: z.array(z.string()),
  channel_id: z.number().int().nullable(),
  enabled: z.boolean(),
  consecutive_failures: z.number().int(),
  disabled_reason: z.string().nullable().describe('`consecutive_failures` when delivery disabled it'),
  owner_id: z.number().int(),
  owner_username: z.string().nullable(),
  created_at: ZIsoDate,
  updated_at: ZIsoDate,
});

export const ZWebhookList = z.object({ webhooks: z.array(ZWebhook) });

const ZShownOnce = {
  secret: z.string().nullable().describe('HMAC-SHA256 signing secret (outgoing); shown only now'),
  token: z.string().nullable().describe('Credential of POST /api/hooks/{token} (incoming); shown only now'),
};

export const ZCreatedWebhook = ZWebhook.extend(ZShownOnce);

export const ZRotatedSecret = z.object({ id: z.number().int(), ...ZShownOnce });

export const ZTestQueued = z.object({ success: z.literal(true), event_id: z.string() });

export const ZDeliveryLog = z.object({
  id: z.number().int(),
  delivery_id: z.number().int(),
  event: z.string(),
  event_id: z.string(),
  attempt: z.number().int(),
  payload: z.record(z.string(), z.unknown()).describe('The request body that was sent'),
  response_status: z.number().int().nullable(),
  response_body: z.string().nullable().describe('The first 1 KiB of the answer'),
  success: z.boolean(),
  error: z.string().nullable(),
  duration_ms: z.number().int(),
  next_attempt_at: ZIsoDate.nullable().describe('When the retry after this attempt is due'),
  status: z.enum(['pending', 'delivered', 'failed']).describe("The delivery's state now"),
  created_at: ZIsoDate,
});

export const ZDeliveryLogPage = z.object({
  deliveries: z.array(ZDeliveryLog),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const ZIncomingPosted = z.object({
  success: z.literal(true),
  message_id: z.number().int(),
  channel_id: z.number().int(),
  created_at: ZIsoDate,
});

// ── inputs ───────────────────────────────────────────────────────────────────────────────

export const ZWebhookId = z.object({ id: ZId });

export const ZCreateWebhookInput = z.object({
  name: ZName,
  type: z.enum(WEBHOOK_TYPES),
  url: ZUrl.optional().describe('Delivery URL (outgoing; required there)'),
  events: ZEvents.optional().describe('Required for outgoing webhooks'),
  channel_id: ZChannelId.optional().describe('Target channel (incoming; required there)'),
});

export const ZUpdateWebhookInput = z.object({
  id: ZId,
  name: ZName.optional(),
  url: ZUrl.optional(),
  events: ZEvents.optional(),
  channel_id: ZChannelId.optional(),
  enabled: z.boolean().optional().describe('Enabling again resets consecutive_failures'),
});

export const ZDeliveryLogInput = z.object({
  id: ZId,
  limit: integer().min(1).max(WEBHOOK_LIMITS.LOGS_MAX).default(WEBHOOK_LIMITS.LOGS_DEFAULT),
  offset: integer().min(0).max(1_000_000).default(0),
});

export const ZIncomingInput = z.object({
  token: z.string().min(1).max(200),
  content: z.string().min(1).max(WEBHOOK_LIMITS.CONTENT_MAX),
  username: z
    .string()
    .max(WEBHOOK_LIMITS.USERNAME_MAX)
    .optional()
    .describe("Display name for this message (default: the webhook's name)"),
});
