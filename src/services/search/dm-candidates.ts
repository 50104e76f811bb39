import { and, arrayContains, desc, eq, gt, inArray, isNotNull, lt, ne, type SQL, sql } from 'drizzle-orm';
import { dmConversations, dmMessages, dmParticipants, users } from '../../db/schema';
import { authorNotBlockedBy } from '../users/blocks';
import { type Candidate, SEARCH_LIMITS, type SearchCaller, type SearchDeps, type SearchQuery } from './types';

// DM messages whose blind index holds every query token, in conversations the caller takes part in
// (nobody else, Admin+ included: DMs are private). Same three steps as channel-candidates.ts: the
// caller's conversations, then the messages (GIN lookup, newest WINDOW), then names for those rows.

export async function findDmCandidates(
  deps: Pick<SearchDeps, 'db'>,
  caller: SearchCaller,
  query: SearchQuery,
  tokens: string[],
): Promise<Candidate[]> {
  const { db } = deps;
  const mine = await db
    .select({ id: dmConversations.id, type: dmConversations.type, name: dmConversations.name })
    .from(dmParticipants)
    .innerJoin(dmConversations, eq(dmConversations.id, dmParticipants.conversationId))
    .where(
      and(
        eq(dmParticipants.userId, caller.userId),
        query.conversationId === undefined ? undefined : eq(dmConversations.id, query.conversationId),
      ),
    );
  if (mine.length === 0) return [];
  const ids = mine.map((c) => c.id);
  const where: Array<SQL | undefined> = [
    arrayContains(dmMessages.searchTokens, tokens),
    inArray(dmMessages.conversationId, ids),
    authorNotBlockedBy(dmMessages.userId, caller.userId),
  ];
  if (query.before) where.push(lt(dmMessages.createdAt, query.before));
  if (query.after) where.push(gt(dmMessages.createdAt, query.after));
  if (query.hasImage) where.push(isNotNull(dmMessages.attachments));
  if (query.from !== undefined) {
    const [author] = await db
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.username}) = lower(${query.from})`);
    if (!author) return [];
    where.push(eq(dmMessages.userId, author.id));
  }
  const rows = await db
    .select()
    .from(dmMessages)
    .where(and(...where))
    .orderBy(desc(dmMessages.id))
    .limit(SEARCH_LIMITS.WINDOW);
  if (rows.length === 0) return [];

  // A 1:1 conversation is named after the other participant (seed 002 example).
  const directIds = mine.filter((c) => c.type === 'direct').map((c) => c.id);
  const others = directIds.length
    ? await db
        .select({ conversationId: dmParticipants.conversationId, username: users.username })
        .from(dmParticipants)
        .innerJoin(users, eq(users.id, dmParticipants.userId))
        .where(
          and(inArray(dmParticipants.conversationId, directIds), ne(dmParticipants.userId, caller.userId)),
        )
    : [];
  const otherName = new Map(others.map((o) => [o.conversationId, o.username]));
  const nameOf = new Map(mine.map((c) => [c.id, c.name ?? otherName.get(c.id) ?? 'Direct message']));
  const authorIds = [...new Set(rows.map((r) => r.userId).filter((id): id is number => id !== null))];
  const names = new Map(
    (
      await db
        .select({ id: users.id, username: users.username })
        .from(users)
        .where(inArray(users.id, authorIds))
    ).map((u) => [u.id, u.username]),
  );
  return rows.map((r) => ({
    source: 'dm',
    id: r.id,
    containerId: r.conversationId,
    containerName: nameOf.get(r.conversationId)!,
    userId: r.userId,
    username: r.userId === null ? null : (names.get(r.userId) ?? null),
    anonymous: false,
    seesAuthor: true,
    sealedText: r.text,
    sealedAttachments: r.attachments,
    createdAt: r.createdAt,
  }));
}
