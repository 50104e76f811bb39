import {
  and,
  arrayContains,
  desc,
  eq,
  gt,
  inArray,
  isNotNull,
  lt,
  not,
  or,
  type SQL,
  sql,
} from 'drizzle-orm';
import type { Db } from '../../db/client';
import { channelMembers, channels, chatMessages, users } from '../../db/schema';
import { bannedFromStreamChannel } from '../streams/chat-bans';
import { authorNotBlockedBy } from '../users/blocks';
import { LEVEL } from '../users/policy';
import { type Candidate, SEARCH_LIMITS, type SearchCaller, type SearchDeps, type SearchQuery } from './types';

// Channel messages whose blind index holds every query token, limited to channels the caller may
// read: public ones, private ones they are a member of, and every channel for Admin+ (the rule of
// services/chat/access.ts). Done in three small steps rather than one join: the readable channels,
// then the messages (one table, GIN lookup, newest WINDOW), then the authors of just those rows —
// joining before the LIMIT made a common word join every matching row (measured in the bench).

type Readable = { id: number; name: string; moderator: boolean };

async function readableChannels(db: Db, caller: SearchCaller, channelId?: number): Promise<Readable[]> {
  const isAdmin = caller.level >= LEVEL.ADMIN;
  const rows = await db
    .select({ id: channels.id, name: channels.name, role: channelMembers.role })
    .from(channels)
    .leftJoin(
      channelMembers,
      and(eq(channelMembers.channelId, channels.id), eq(channelMembers.userId, caller.userId)),
    )
    .where(
      and(
        channelId === undefined ? undefined : eq(channels.id, channelId),
        isAdmin ? undefined : or(eq(channels.visibility, 'public'), isNotNull(channelMembers.userId)),
        isAdmin ? undefined : not(bannedFromStreamChannel(db, channels.id, caller.userId)),
      ),
    );
  // Moderator+ of API.md §0: a moderator of that channel, or any Admin/Owner.
  return rows.map((r) => ({ id: r.id, name: r.name, moderator: isAdmin || r.role === 'moderator' }));
}

async function userIdByName(db: Db, username: string): Promise<number | undefined> {
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(sql`lower(${users.username}) = lower(${username})`);
  return row?.id;
}

export async function findChannelCandidates(
  deps: Pick<SearchDeps, 'db'>,
  caller: SearchCaller,
  query: SearchQuery,
  tokens: string[],
): Promise<Candidate[]> {
  const { db } = deps;
  const readable = await readableChannels(db, caller, query.channelId);
  if (readable.length === 0) return [];
  const byId = new Map(readable.map((c) => [c.id, c]));
  const where: Array<SQL | undefined> = [
    arrayContains(chatMessages.searchTokens, tokens),
    inArray(chatMessages.channelId, [...byId.keys()]),
    // Seed 002: a blocked user's messages are hidden from the blocker, in search too.
    authorNotBlockedBy(chatMessages.userId, caller.userId),
  ];
  if (query.before) where.push(lt(chatMessages.createdAt, query.before));
  if (query.after) where.push(gt(chatMessages.createdAt, query.after));
  // Attachments are sealed; a row without them has no image. The decrypted JSON is checked later.
  if (query.hasImage) where.push(isNotNull(chatMessages.attachments));
  if (query.from !== undefined) {
    const authorId = await userIdByName(db, query.from);
    if (authorId === undefined) return [];
    where.push(eq(chatMessages.userId, authorId));
    // Filtering by sender must not unmask anonymous messages to those who may not see the author.
    if (authorId !== caller.userId) {
      const moderated = readable.filter((c) => c.moderator).map((c) => c.id);
      where.push(
        or(
          eq(chatMessages.anonymous, false),
          moderated.length ? inArray(chatMessages.channelId, moderated) : undefined,
        ),
      );
    }
  }

  const rows = await db
    .select({
      id: chatMessages.id,
      channelId: chatMessages.channelId,
      userId: chatMessages.userId,
      anonymous: chatMessages.anonymous,
      authorName: chatMessages.authorName,
      text: chatMessages.text,
      attachments: chatMessages.attachments,
      createdAt: chatMessages.createdAt,
    })
    .from(chatMessages)
    .where(and(...where))
    .orderBy(desc(chatMessages.id))
    .limit(SEARCH_LIMITS.WINDOW);
  const authorIds = [...new Set(rows.map((r) => r.userId).filter((id): id is number => id !== null))];
  const names = new Map(
    authorIds.length === 0
      ? []
      : (
          await db
            .select({ id: users.id, username: users.username })
            .from(users)
            .where(inArray(users.id, authorIds))
        ).map((u) => [u.id, u.username]),
  );

  return rows.map((r) => {
    const channel = byId.get(r.channelId)!;
    return {
      source: 'channel',
      id: r.id,
      containerId: r.channelId,
      containerName: channel.name,
      userId: r.userId,
      // Webhook messages have no user, only the name they were posted under.
      username: r.userId === null ? r.authorName : (names.get(r.userId) ?? null),
      anonymous: r.anonymous,
      seesAuthor: r.userId === caller.userId || channel.moderator,
      sealedText: r.text,
      sealedAttachments: r.attachments,
      createdAt: r.createdAt,
    };
  });
}
