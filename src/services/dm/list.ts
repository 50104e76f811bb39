import { and, count, desc, eq, gt, inArray, isNull, ne, or, type SQL, sql } from 'drizzle-orm';
import { dmConversations, dmMessages, dmParticipants, users } from '../../db/schema';
import { authorNotBlockedBy } from '../users/blocks';
import { requireParticipant } from './access';
import type { DmDeps } from './types';
import { briefParticipant, fullParticipant, participantsOf } from './views';

// The caller's conversations as `GET /api/dm/conversations` and `dm_conversations_list` show them:
// most recent activity first, each with its last message (opened), unread count and mute flag;
// messages of users the caller blocked count for neither.

export type ConversationPage = { limit: number; offset: number };
/** API.md §8: DM lists default to 100 and hold at most 100 per page. */
export const CONVERSATION_PAGE_DEFAULT: ConversationPage = { limit: 100, offset: 0 };

/** The caller's conversations, most recent activity first, a page at a time. */
export async function listConversations(
  deps: DmDeps,
  userId: number,
  page: ConversationPage = CONVERSATION_PAGE_DEFAULT,
) {
  const mineOnly = eq(dmParticipants.userId, userId);
  const [total] = await deps.db.select({ n: count() }).from(dmParticipants).where(mineOnly);
  return {
    conversations: await conversationEntries(deps, userId, mineOnly, page),
    total: total?.n ?? 0,
    ...page,
  };
}

/** One conversation as the caller's list shows it (a targeted update), or null when not theirs. */
export async function conversationEntry(deps: DmDeps, userId: number, conversationId: number) {
  const where = and(eq(dmParticipants.userId, userId), eq(dmParticipants.conversationId, conversationId))!;
  const [entry] = await conversationEntries(deps, userId, where, { limit: 1, offset: 0 });
  return entry ?? null;
}

/**
 * List entries of `userId`'s participant rows matching `where`: each with its last message
 * (opened) and unread count, both leaving out authors the caller blocked, and the mute flag.
 */
async function conversationEntries(deps: DmDeps, userId: number, where: SQL, page: ConversationPage) {
  const { db } = deps;
  const mine = await db
    .select({ c: dmConversations, muted: dmParticipants.muted, lastReadId: dmParticipants.lastReadId })
    .from(dmParticipants)
    .innerJoin(dmConversations, eq(dmConversations.id, dmParticipants.conversationId))
    .where(where)
    .orderBy(
      desc(sql`coalesce(${dmConversations.lastMessageAt}, ${dmConversations.createdAt})`),
      desc(dmConversations.id),
    )
    .limit(page.limit)
    .offset(page.offset);
  const ids = mine.map((r) => r.c.id);
  if (ids.length === 0) return [];
  const people = await participantsOf(db, ids);
  const visible = authorNotBlockedBy(dmMessages.userId, userId);
  const last = await db
    .selectDistinctOn([dmMessages.conversationId], {
      conversationId: dmMessages.conversationId,
      text: dmMessages.text,
      username: users.username,
      createdAt: dmMessages.createdAt,
    })
    .from(dmMessages)
    .leftJoin(users, eq(users.id, dmMessages.userId))
    .where(and(inArray(dmMessages.conversationId, ids), visible))
    .orderBy(dmMessages.conversationId, desc(dmMessages.id));
  const lastBy = new Map(last.map((l) => [l.conversationId, l]));
  // Unread: newer than the caller's read marker and written by someone else.
  const unread = await db
    .select({ conversationId: dmMessages.conversationId, n: count() })
    .from(dmMessages)
    .innerJoin(
      dmParticipants,
      and(eq(dmParticipants.conversationId, dmMessages.conversationId), eq(dmParticipants.userId, userId)),
    )
    .where(
      and(
        inArray(dmMessages.conversationId, ids),
        gt(dmMessages.id, dmParticipants.lastReadId),
        or(isNull(dmMessages.userId), ne(dmMessages.userId, userId)),
        visible,
      ),
    )
    .groupBy(dmMessages.conversationId);
  const unreadBy = new Map(unread.map((u) => [u.conversationId, u.n]));
  return mine.map(({ c, muted }) => {
    const l = lastBy.get(c.id);
    return {
      id: c.id,
      type: c.type as 'direct' | 'group',
      name: c.name,
      participants: (people.get(c.id) ?? []).map(briefParticipant),
      last_message: l
        ? {
            message: deps.secretBox.decrypt(l.text),
            username: l.username ?? 'Deleted user',
            created_at: l.createdAt.toISOString(),
          }
        : null,
      unread_count: unreadBy.get(c.id) ?? 0,
      muted,
      created_at: c.createdAt.toISOString(),
    };
  });
}

/** `GET /api/dm/conversations/{id}` and `dm_conversation_opened.conversation`. */
export async function getConversation(deps: DmDeps, userId: number, conversationId: number) {
  const { conversation: c, me } = await requireParticipant(deps.db, conversationId, userId);
  const people = await participantsOf(deps.db, [c.id]);
  return {
    id: c.id,
    type: c.type as 'direct' | 'group',
    name: c.name,
    participants: (people.get(c.id) ?? []).map(fullParticipant),
    muted: me.muted,
    created_at: c.createdAt.toISOString(),
  };
}
