import { and, eq } from 'drizzle-orm';
import { sha256Hex } from '../../core/crypto';
import { AppError } from '../../core/errors';
import { channels, webhooks } from '../../db/schema';
import { storeMessage } from '../chat/messages';
import type { ChatDeps } from '../chat/types';
import type { WebhookEnv } from './types';

// POST /api/hooks/{token} (seed 002): the token in the path is the credential. The message goes
// through the channel message service like any other — sealed, blind-indexed for search, pushed
// to /ws/chat, raising `message.created` — under the webhook's name or the `username` given.
// Each token may post INCOMING_WEBHOOK_RATE_MESSAGES per window (10 per 60 s).

export type IncomingInput = { content: string; username?: string | undefined };

type IncomingDeps = ChatDeps & {
  env: Pick<WebhookEnv, 'INCOMING_WEBHOOK_RATE_MESSAGES' | 'INCOMING_WEBHOOK_RATE_WINDOW_SECONDS'>;
};

async function countPost(deps: IncomingDeps, tokenHash: string) {
  let result: Awaited<ReturnType<ChatDeps['rateLimiter']['checkSliding']>>;
  try {
    result = await deps.rateLimiter.checkSliding(
      'hook',
      tokenHash.slice(0, 32),
      deps.env.INCOMING_WEBHOOK_RATE_MESSAGES,
      deps.env.INCOMING_WEBHOOK_RATE_WINDOW_SECONDS * 1000,
    );
  } catch (err) {
    // As for the tiers: an unreachable counter store (Redis) serves rather than fails every post.
    deps.log.warn({ err }, 'incoming webhook rate limiter unavailable');
    return;
  }
  if (!result.allowed)
    throw new AppError('TOO_MANY_REQUESTS', undefined, { retry_after: result.retryAfterSeconds });
}

export async function postIncomingMessage(deps: IncomingDeps, token: string, input: IncomingInput) {
  const tokenHash = sha256Hex(token);
  const [hook] = await deps.db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.tokenHash, tokenHash), eq(webhooks.type, 'incoming')));
  if (!hook?.channelId) throw new AppError('NOT_FOUND', 'Webhook not found');
  if (!hook.enabled) throw new AppError('FORBIDDEN', 'This webhook is disabled');
  if (input.content.trim() === '') throw new AppError('BAD_REQUEST', 'content is required');
  await countPost(deps, tokenHash);
  const [channel] = await deps.db.select().from(channels).where(eq(channels.id, hook.channelId));
  if (!channel) throw new AppError('NOT_FOUND', 'Channel not found');
  // Webhooks are set up by Admin+, so they post in read-only channels too (announcements).
  const { stored } = await storeMessage(deps, {
    channel,
    author: { webhookId: hook.id, name: input.username?.trim() || hook.name },
    text: input.content,
    anonymous: false,
  });
  return {
    success: true as const,
    message_id: stored.row.id,
    channel_id: channel.id,
    created_at: stored.row.createdAt.toISOString(),
  };
}
