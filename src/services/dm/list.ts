import { and, count, desc, eq, gt, inArray, isNull, ne, or, sql } from 'drizzle-orm';
import { dmConversations, dmMessages, dmParticipants, users } from '../../db/schema';
import { requireParticipant } from './access';
import type { DmDeps } from './types';
import { briefParticipant, fullParticipant, participantsOf } from './views';

// The caller's conversations as `GET /api/dm/conversations` and `dm_conversations_list` show them:
// most recent activity first, each with its last message (opened), unread count and mute flag.

/** Every conversation of `userId`, most recent activity first. */
export async function listConversations(deps: DmDeps, userId: number) {
  const { db } = deps;
  const mine = await db
    .select({ c: dmConversations, muted: dmParticipants.muted, lastReadId: dmParticipants.lastReadId })
    .from(dmParticipants)
    .innerJoin(dmConversations, eq(dmConversations.id, dmParticipants.conversationId))
    .where(eq(dmParticipants.userId, userId))
    .orderBy(
      desc(sql`coalesce(${dmConversations.lastMessageAt}, ${dmConversations.createdAt})`),
      desc(dmConversations.id),
    );
  const ids = mine.map((r) => r.c.id);
  if (ids.length === 0) return { conversations: [] };
  const people = await participantsOf(db, ids);
  const last = await db
    .selectDistinctOn([dmMessages.conversationId], {
      conversationId: dmMessages.conversationId,
      text: dmMessages.text,
      username: users.username,
      createdAt: dmMessages.createdAt,
    })
    .from(dmMessages)
    .leftJoin(users, eq(users.id, dmMessages.userId))
    .where(inArray(dmMessages.conversationId, ids))
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
      ),
    )
    .groupBy(dmMessages.conversationId);
  const unreadBy = new Map(unread.map((u) => [u.conversationId, u.n]));
  return {
    conversations: mine.map(({ c, muted }) => {
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
    }),
  };
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
