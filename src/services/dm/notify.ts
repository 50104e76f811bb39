import { and, eq, inArray } from 'drizzle-orm';
import { dmParticipants } from '../../db/schema';
import { notify } from '../notifications/notify';
import { PRESENCE_SET } from '../stats/public';
import type { DmActor, DmDeps } from './types';

// API.md §4 `dm_message`: participants who are offline on both /ws/chat and /ws/portal (neither
// hub holds a socket of theirs: the `online-users` presence set), and did not mute the
// conversation, get a notification. Notification rows are plaintext, so they name the sender
// only, never the text.

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
  if (unmuted.length === 0) return;
  const online = new Set(await deps.bus.presenceMembers(PRESENCE_SET.onlineUsers));
  const offline = unmuted.map((r) => r.userId).filter((id) => !online.has(String(id)));
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
