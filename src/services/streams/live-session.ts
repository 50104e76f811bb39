import type { WebhookEventData } from '../webhooks/events';
import type { LiveSession } from './lifecycle';
import { readUrlsOf } from './mediamtx';
import type { StreamDeps, StreamRow } from './types';

// A live stream as the lifecycle listeners and webhook receivers see it.

export function sessionOf(
  deps: Pick<StreamDeps, 'env' | 'secretKey' | 'secretBox'>,
  row: StreamRow,
  username: string,
): LiveSession {
  const mediaPath = row.livePath ? deps.secretBox.decrypt(row.livePath) : '';
  return {
    streamId: row.id,
    userId: row.userId,
    username,
    title: row.title,
    isPublic: row.isPublic,
    sessionId: row.liveSessionId ?? '',
    mediaPath,
    readUrl: readUrlsOf(deps.env, deps.secretKey, mediaPath),
    startedAt: row.startedAt ?? new Date(),
  };
}

export const liveEventData = (row: StreamRow, username: string): WebhookEventData['stream.live'] => ({
  stream_id: row.id,
  user_id: row.userId,
  username,
  title: row.title,
  is_public: row.isPublic,
  chat_channel_id: row.chatChannelId,
  started_at: (row.startedAt ?? new Date()).toISOString(),
});

export const offlineEventData = (
  row: StreamRow,
  username: string,
  endedAt: Date,
): WebhookEventData['stream.offline'] => ({
  stream_id: row.id,
  user_id: row.userId,
  username,
  title: row.title,
  ended_at: endedAt.toISOString(),
});
