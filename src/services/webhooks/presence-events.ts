import type { Bus } from '../../core/bus/types';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import { chatOnlineSet } from '../dm/events';
import { enqueueWebhookEvent } from './outbox';

// `user.connected` / `user.disconnected` (docs/webhooks.md): a user comes online with their first
// /ws/chat socket anywhere in the cluster and goes offline with their last one — the seed's
// "online users" are the users currently in chat. The chat hub keeps the presence set
// `chat-online:<id>` (one entry per node holding the user); this reads it right after this
// node's change. Presence is not a database change, so the event has no transaction to join.

type Deps = { db: Db; secretBox: SecretBox; bus: Bus; log: { warn(obj: object, msg?: string): void } };

export async function announceChatPresence(
  deps: Deps,
  user: { userId: number; username: string },
  state: 'connected' | 'disconnected',
): Promise<void> {
  try {
    const nodes = await deps.bus.presenceCount(chatOnlineSet(user.userId));
    // Connected: this node's entry is the only one. Disconnected: no node holds the user now.
    if (nodes !== (state === 'connected' ? 1 : 0)) return;
    await enqueueWebhookEvent(deps, {
      event: state === 'connected' ? 'user.connected' : 'user.disconnected',
      data: { user_id: user.userId, username: user.username },
    });
  } catch (err) {
    deps.log.warn({ err, user_id: user.userId }, 'presence webhook event not queued');
  }
}
