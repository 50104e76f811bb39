import { and, eq, inArray } from 'drizzle-orm';
import { dmParticipants } from '../../db/schema';
import { notify } from '../notifications/notify';
import { PRESENCE_SET } from '../stats/public';
import { chatOnlineSet } from './events';
import type { DmActor, DmDeps } from './types';

// API.md §4 `dm_message`: participants who are offline on both /ws/chat and /ws/portal, and did
// not mute the conversation, get a notification. Notification rows are plaintext, so they name
// the sender only, never the text.

export async function notifyOffline(
  deps: DmDeps,
  actor: DmActor,
  conversationId: number,
  messageId: number,
  recipients: number[],
) {
  if (recipients.length === 0) return;
  const unmuted = await deps.db
    .select({ userId: dmParticipants.userId })
    .from(dmParticipants)
    .where(
      and(
        eq(dmParticipants.conversationId, conversationId),
        inArray(dmParticipants.userId, recipients),
        eq(dmParticipants.muted, false),
      ),
    );
  const candidates: number[] = [];
  // /ws/chat: a per-user presence set of the nodes holding a socket (realtime/chat/dm-delivery.ts).
  for (const { userId } of unmuted)
    if ((await deps.bus.presenceCount(chatOnlineSet(userId))) === 0) candidates.push(userId);
  if (candidates.length === 0) return;
  // /ws/portal: the `online-users` set its hub keeps.
  const portal = new Set(await deps.bus.presenceMembers(PRESENCE_SET.onlineUsers));
  const offline = candidates.filter((id) => !portal.has(String(id)));
  if (offline.length === 0) return;
  await notify(deps, {
    userIds: offline,
    type: 'dm_message',
    title: 'New direct message',
    message: `${actor.username} sent you a message`,
    link: `/dm/${conversationId}`,
    data: { conversation_id: conversationId, message_id: messageId, from_user_id: actor.userId },
  });
}
