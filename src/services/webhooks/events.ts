// The events of seed 002's outgoing webhooks, and the JSON body every receiver gets. The body is
// built once per event (so every webhook, and every retry, gets the same bytes and the same id);
// the seed's `{event, timestamp, data}` is kept as is, with `id`, the event id receivers
// deduplicate on, added because a header alone is not covered by the signature.

/** Events a webhook may subscribe to (seed 002, binding names). */
export const WEBHOOK_EVENTS = [
  'message.created',
  'message.deleted',
  'stream.live',
  'stream.offline',
  'user.joined',
  'user.connected',
  'user.disconnected',
] as const;

export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

/** Sent by `POST /api/webhooks/{id}/test` only; nobody subscribes to it. */
export const TEST_EVENT = 'webhook.test';

export type AnyWebhookEvent = WebhookEventName | typeof TEST_EVENT;

// The `data` of each event (docs/webhooks.md documents them for receivers).
export type WebhookEventData = {
  'message.created': {
    message_id: number;
    channel_id: number;
    channel_name: string;
    /** null for anonymous messages and messages posted by incoming webhooks. */
    user_id: number | null;
    username: string;
    content: string;
    reply_to?: number | null;
    image_url?: string | null;
    anonymous?: boolean;
    webhook_id?: number | null;
  };
  'message.deleted': {
    message_id: number;
    channel_id: number;
    channel_name: string;
    user_id: number | null;
    deleted_by: number | null;
  };
  'stream.live': {
    stream_id: number;
    user_id: number;
    username: string;
    title: string;
    [key: string]: unknown;
  };
  'stream.offline': {
    stream_id: number;
    user_id: number;
    username: string;
    title: string;
    [key: string]: unknown;
  };
  'user.joined': { user_id: number; username: string; created_at: string };
  'user.connected': { user_id: number; username: string };
  'user.disconnected': { user_id: number; username: string };
  'webhook.test': { webhook_id: number; message: string };
};

export type WebhookEvent = {
  [E in AnyWebhookEvent]: { event: E; data: WebhookEventData[E] };
}[AnyWebhookEvent];

/** The exact body of one event: serialised once, sealed in the outbox, signed at each attempt. */
export function eventBody(id: string, event: WebhookEvent, at = new Date()): string {
  return JSON.stringify({
    id,
    event: event.event,
    timestamp: `${at.toISOString().slice(0, 19)}Z`,
    data: event.data,
  });
}
