import { count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import { channels, chatMessages, chatReactions, users } from '../../db/schema';
import { imageUrlOf } from '../uploads/references';
import { authorNotBlockedBy } from '../users/blocks';
import { isAdmin, payloadRole } from './access';
import { CHAT_LIMITS } from './types';

// How a stored message becomes the seed's `message` payload. The text is opened here and nowhere
// else. Anonymous messages are masked for everyone but their author and moderators+ (API.md §8).

const author = {
  username: users.username,
  nickname: users.nickname,
  color: users.avatarColor,
  emoji: users.avatarEmoji,
  initials: users.avatarInitials,
  level: users.permissionLevel,
};

/** A message, opened, with what its views need. */
export type OpenMessage = Awaited<ReturnType<typeof loadMessages>>[number];

/** Messages matching `where` (newest first when `newestFirst`), opened. */
export async function loadMessages(
  deps: { db: Db; secretBox: SecretBox },
  where: SQL | undefined,
  opts: { limit?: number; newestFirst?: boolean } = {},
) {
  const query = deps.db
    .select({ m: chatMessages, channel: channels.name, author })
    .from(chatMessages)
    .innerJoin(channels, eq(channels.id, chatMessages.channelId))
    .leftJoin(users, eq(users.id, chatMessages.userId))
    .where(where)
    .orderBy(opts.newestFirst ? desc(chatMessages.id) : chatMessages.id);
  const rows = await (opts.limit ? query.limit(opts.limit) : query);
  return rows.map(({ m, channel, author: a }) => ({
    row: m,
    channel,
    author: m.userId !== null && a?.username ? a : null,
    text: deps.secretBox.decrypt(m.text),
    imageUrl: imageUrlOf(deps.secretBox, m.attachments),
  }));
}

/** Not written by someone the viewer blocked (seed 002: their messages are hidden from the blocker). */
export const notBlockedBy = (viewerId: number): SQL => authorNotBlockedBy(chatMessages.userId, viewerId);

type Reactor = { id: number; anonymous: boolean };

export type ViewContext = {
  moderatorIds: Set<number>;
  previews: Map<number, OpenMessage>;
  reactions: Map<number, Array<{ emoji: string; count: number; reactors: Reactor[] }>>;
  /** Who reads: sees their own anonymous reactions, and moderators+ see every reactor. Absent: nobody's. */
  viewer?: { userId: number; level: number };
};

/** Does this viewer see the real author of anonymous messages? */
export const seesReal = (
  viewer: { userId: number; level: number },
  authorId: number | null,
  ctx: ViewContext,
) => viewer.userId === authorId || isAdmin(viewer) || ctx.moderatorIds.has(viewer.userId);

function identity(m: OpenMessage, real: boolean, ctx: ViewContext) {
  // Posted by an incoming webhook: shown under the webhook's name (or its `username`).
  if (m.row.webhookId !== null) {
    return {
      user_id: null,
      username: m.row.authorName ?? 'Webhook',
      nickname: null,
      role: 'user' as const,
      avatar: null,
    };
  }
  if (m.row.anonymous && !real) {
    return { user_id: null, username: 'Anonymous', nickname: null, role: 'user' as const, avatar: null };
  }
  const a = m.author;
  return {
    user_id: m.row.userId,
    username: a?.username ?? 'Deleted user',
    nickname: a?.nickname ?? null,
    role: payloadRole(a?.level ?? 0, m.row.userId !== null && ctx.moderatorIds.has(m.row.userId)),
    avatar: a ? { color: a.color, emoji: a.emoji, initials: a.initials } : null,
  };
}

/** The seed's `message` payload (without `type`), masked unless `real`. */
export function messageView(m: OpenMessage, real: boolean, ctx: ViewContext) {
  const parent = m.row.replyTo !== null ? ctx.previews.get(m.row.replyTo) : undefined;
  return {
    id: m.row.id,
    channel: m.channel,
    channel_id: m.row.channelId,
    ...identity(m, real, ctx),
    anonymous: m.row.anonymous,
    ...(m.row.webhookId !== null && { webhook_id: m.row.webhookId }),
    message: m.text,
    ...(m.imageUrl && { image_url: m.imageUrl }),
    ...(m.row.replyTo !== null && {
      reply_to: m.row.replyTo,
      reply_preview: parent
        ? {
            id: parent.row.id,
            username: identity(parent, real && seesRealParent(parent, m), ctx).username,
            message: parent.text.slice(0, CHAT_LIMITS.PREVIEW_CHARS),
          }
        : null,
    }),
    reactions: (ctx.reactions.get(m.row.id) ?? []).map(({ emoji, count, reactors }) => ({
      emoji,
      count,
      // Anonymous reactions are masked like anonymous authors: null in place of the id.
      user_ids: reactors.map((r) => (r.anonymous && !seesReactor(ctx, r.id) ? null : r.id)),
    })),
    pinned: m.row.pinnedAt !== null,
    edited_at: m.row.editedAt?.toISOString() ?? null,
    created_at: m.row.createdAt.toISOString(),
  };
}

// A viewer entitled to the real author of a reply is not thereby entitled to the parent's author,
// unless they are a moderator+ (who sees every author) or wrote the parent.
const seesRealParent = (parent: OpenMessage, reply: OpenMessage) =>
  !parent.row.anonymous || parent.row.userId === reply.row.userId;

const seesReactor = (ctx: ViewContext, reactorId: number) =>
  ctx.viewer !== undefined && seesReal(ctx.viewer, reactorId, ctx);

export type MessageView = ReturnType<typeof messageView>;

/** Reply previews and reactions for a page of messages (two queries at most). */
export async function viewContext(
  deps: { db: Db; secretBox: SecretBox },
  messages: OpenMessage[],
  moderatorIds: Set<number>,
  viewer?: ViewContext['viewer'],
  opts: { withReactions?: boolean } = {},
): Promise<ViewContext> {
  const parentIds = [...new Set(messages.flatMap((m) => (m.row.replyTo === null ? [] : [m.row.replyTo])))];
  const parents = parentIds.length ? await loadMessages(deps, inArray(chatMessages.id, parentIds)) : [];
  const ids = messages.map((m) => m.row.id);
  const reactionRows =
    ids.length && opts.withReactions !== false
      ? await deps.db
          .select({
            messageId: chatReactions.messageId,
            emoji: chatReactions.emoji,
            n: count(),
            userIds: sql<number[]>`array_agg(${chatReactions.userId} order by ${chatReactions.createdAt})`,
            anonymous: sql<
              boolean[]
            >`array_agg(${chatReactions.anonymous} order by ${chatReactions.createdAt})`,
          })
          .from(chatReactions)
          .where(inArray(chatReactions.messageId, ids))
          .groupBy(chatReactions.messageId, chatReactions.emoji)
      : [];
  const reactions: ViewContext['reactions'] = new Map();
  for (const r of reactionRows) {
    const list = reactions.get(r.messageId) ?? [];
    list.push({
      emoji: r.emoji,
      count: r.n,
      reactors: r.userIds.map((id, i) => ({ id: Number(id), anonymous: r.anonymous[i] === true })),
    });
    reactions.set(r.messageId, list);
  }
  return {
    moderatorIds,
    previews: new Map(parents.map((p) => [p.row.id, p])),
    reactions,
    ...(viewer && { viewer }),
  };
}
