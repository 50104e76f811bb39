import { and, count, desc, eq, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import { dmMessages, dmParticipants, dmReactions, users } from '../../db/schema';
import { payloadRole } from '../chat/access';
import { imageUrlOf } from '../uploads/references';
import { authorNotBlockedBy } from '../users/blocks';

// How stored DM rows become the seed's payloads. Text and attachments are opened here and nowhere
// else. DMs have no anonymous mode and no channel roles: `role` is the global one (API.md §0).

const person = {
  id: users.id,
  username: users.username,
  nickname: users.nickname,
  level: users.permissionLevel,
  color: users.avatarColor,
  emoji: users.avatarEmoji,
  initials: users.avatarInitials,
};

type Person = { id: number; username: string; nickname: string | null; level: number } & {
  color: string;
  emoji: string | null;
  initials: string | null;
};

const avatarOf = (p: Person) => ({ color: p.color, emoji: p.emoji, initials: p.initials });

/** Participants of conversations, in join order: conversation id → people. */
export async function participantsOf(db: Db, conversationIds: number[]) {
  const byConversation = new Map<number, Person[]>();
  if (conversationIds.length === 0) return byConversation;
  const rows = await db
    .select({ conversationId: dmParticipants.conversationId, person })
    .from(dmParticipants)
    .innerJoin(users, eq(users.id, dmParticipants.userId))
    .where(inArray(dmParticipants.conversationId, conversationIds))
    .orderBy(dmParticipants.joinedAt, dmParticipants.userId);
  for (const r of rows) {
    const list = byConversation.get(r.conversationId) ?? [];
    list.push(r.person);
    byConversation.set(r.conversationId, list);
  }
  return byConversation;
}

/** `{user_id, username}` of the seed's lists. */
export const briefParticipant = (p: Person) => ({ user_id: p.id, username: p.username });

/** `GET /api/dm/conversations/{id}` participants: with nickname, role and avatar. */
export const fullParticipant = (p: Person) => ({
  ...briefParticipant(p),
  nickname: p.nickname,
  role: payloadRole(p.level, false),
  avatar: avatarOf(p),
});

/** DM messages matching `where`, newest first, opened, with their authors and reactions. */
export async function loadDmMessages(deps: { db: Db; secretBox: SecretBox }, where: SQL, limit?: number) {
  const query = deps.db
    .select({ m: dmMessages, author: person })
    .from(dmMessages)
    .leftJoin(users, eq(users.id, dmMessages.userId))
    .where(where)
    .orderBy(desc(dmMessages.id));
  const rows = await (limit ? query.limit(limit) : query);
  const ids = rows.map((r) => r.m.id);
  const reactionRows = ids.length
    ? await deps.db
        .select({
          messageId: dmReactions.messageId,
          emoji: dmReactions.emoji,
          n: count(),
          userIds: sql<number[]>`array_agg(${dmReactions.userId} order by ${dmReactions.createdAt})`,
        })
        .from(dmReactions)
        .where(inArray(dmReactions.messageId, ids))
        .groupBy(dmReactions.messageId, dmReactions.emoji)
    : [];
  const reactions = new Map<number, Array<{ emoji: string; count: number; user_ids: number[] }>>();
  for (const r of reactionRows) {
    const list = reactions.get(r.messageId) ?? [];
    list.push({ emoji: r.emoji, count: r.n, user_ids: r.userIds.map(Number) });
    reactions.set(r.messageId, list);
  }
  return rows.map(({ m, author }) => {
    const imageUrl = imageUrlOf(deps.secretBox, m.attachments);
    return {
      id: m.id,
      conversation_id: m.conversationId,
      user_id: m.userId,
      username: author?.username ?? 'Deleted user',
      nickname: author?.nickname ?? null,
      avatar: author ? avatarOf(author) : null,
      message: deps.secretBox.decrypt(m.text),
      ...(imageUrl && { image_url: imageUrl }),
      reply_to: m.replyTo,
      reactions: reactions.get(m.id) ?? [],
      edited_at: m.editedAt?.toISOString() ?? null,
      created_at: m.createdAt.toISOString(),
    };
  });
}

export type DmMessageView = Awaited<ReturnType<typeof loadDmMessages>>[number];

/**
 * One page as `viewerId` sees it, newest first: `limit` messages before `beforeId` (leaving out
 * authors the viewer blocked), and whether older ones exist.
 */
export async function dmMessagePage(
  deps: { db: Db; secretBox: SecretBox },
  conversationId: number,
  viewerId: number,
  opts: { limit: number; beforeId?: number | undefined },
) {
  const where = and(
    eq(dmMessages.conversationId, conversationId),
    authorNotBlockedBy(dmMessages.userId, viewerId),
    opts.beforeId === undefined ? undefined : lt(dmMessages.id, opts.beforeId),
  )!;
  const rows = await loadDmMessages(deps, where, opts.limit + 1);
  return { messages: rows.slice(0, opts.limit), has_more: rows.length > opts.limit };
}
