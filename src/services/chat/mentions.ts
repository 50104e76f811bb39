import { and, inArray, ne, sql } from 'drizzle-orm';
import { users } from '../../db/schema';
import { notify } from '../notifications/notify';
import { accessOf } from './access';
import { blockersOf } from './publish';
import type { ChannelRow, ChatActor, ChatDeps } from './types';
import type { OpenMessage } from './views';

// `@username` in a channel message notifies that user (type `mention`) when they can read the
// channel and have not blocked the author. The notification never quotes the message: notification
// rows are plaintext, and message text must not reach the database unsealed.

export const MENTION = /(?:^|[^A-Za-z0-9_.-])@([A-Za-z0-9_.-]{3,32})/g;
const MAX_MENTIONS = 20;

export function mentionedNames(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(MENTION)) {
    names.add(match[1]!.toLowerCase());
    if (names.size >= MAX_MENTIONS) break;
  }
  return [...names];
}

export async function notifyMentions(deps: ChatDeps, actor: ChatActor, channel: ChannelRow, m: OpenMessage) {
  const names = mentionedNames(m.text);
  if (names.length === 0) return;
  const found = await deps.db
    .select({ id: users.id, username: users.username, level: users.permissionLevel })
    .from(users)
    .where(and(inArray(sql`lower(${users.username})`, names), ne(users.id, actor.userId)));
  if (found.length === 0) return;
  const blockers = new Set(await blockersOf(deps.db, actor.userId));
  const recipients: number[] = [];
  for (const user of found) {
    if (blockers.has(user.id)) continue;
    const access = await accessOf(deps.db, channel, {
      userId: user.id,
      username: user.username,
      level: user.level,
    });
    if (access.canRead) recipients.push(user.id);
  }
  if (recipients.length === 0) return;
  const who = m.row.anonymous ? 'Someone' : actor.username;
  await notify(deps, {
    userIds: recipients,
    type: 'mention',
    title: `Mention in #${channel.name}`,
    message: `${who} mentioned you in #${channel.name}`,
    link: `/chat/${channel.name}?message=${m.row.id}`,
    data: { channel_id: channel.id, channel: channel.name, message_id: m.row.id },
  });
}
