import { and, eq, isNotNull, lt } from 'drizzle-orm';
import { blocks, chatMessages } from '../../db/schema';
import { moderatorIdsOf, readableChannel } from './access';
import { messageForActor } from './messages';
import { pollsOfMessages } from './poll-views';
import { CHAT_LIMITS, type ChatActor, type ChatDeps } from './types';
import { loadMessages, messageView, notBlockedBy, type OpenMessage, seesReal, viewContext } from './views';

// Reading channel messages as one viewer: history pages, reply threads and pinned messages, with
// blocked authors filtered out and anonymous authors masked unless the viewer may see them.

type ReadDeps = Pick<ChatDeps, 'db' | 'secretBox'>;

/** Views as `actor` reads them; a poll message carries its poll's state (a late joiner sees it). */
async function present(deps: ReadDeps, actor: ChatActor, channelId: number, messages: OpenMessage[]) {
  const ctx = await viewContext(deps, messages, await moderatorIdsOf(deps.db, channelId), actor);
  const polls = await pollsOfMessages(
    deps,
    messages.map((m) => m.row.id),
    actor.userId,
  );
  return messages.map((m) => {
    const poll = polls.get(m.row.id);
    return { ...messageView(m, seesReal(actor, m.row.userId, ctx), ctx), ...(poll && { poll }) };
  });
}

/** GET /api/chat/channels/{id}/messages and the `history` frame: oldest first, `has_more` older. */
export async function listHistory(
  deps: ReadDeps,
  actor: ChatActor,
  ref: { id: number } | { name: string },
  page: { before_id?: number | undefined; limit?: number | undefined } = {},
) {
  const access = await readableChannel(deps.db, ref, actor);
  const limit = Math.min(page.limit ?? CHAT_LIMITS.HISTORY_DEFAULT, CHAT_LIMITS.HISTORY_MAX);
  const rows = await loadMessages(
    deps,
    and(
      eq(chatMessages.channelId, access.channel.id),
      notBlockedBy(actor.userId),
      page.before_id === undefined ? undefined : lt(chatMessages.id, page.before_id),
    ),
    { limit: limit + 1, newestFirst: true },
  );
  const hasMore = rows.length > limit;
  const messages = rows.slice(0, limit).reverse();
  return {
    access,
    messages: await present(deps, actor, access.channel.id, messages),
    has_more: hasMore,
  };
}

/** GET /api/chat/messages/{id}/thread: the reply chain up to 20 deep, oldest first. */
export async function getThread(deps: ChatDeps, actor: ChatActor, messageId: number) {
  const { m, access } = await messageForActor(deps, actor, messageId);
  const chain: OpenMessage[] = [m];
  let parentId = m.row.replyTo;
  while (parentId !== null && chain.length < CHAT_LIMITS.THREAD_DEPTH) {
    const [parent] = await loadMessages(
      deps,
      and(eq(chatMessages.id, parentId), eq(chatMessages.channelId, access.channel.id)),
    );
    if (!parent) break;
    chain.push(parent);
    parentId = parent.row.replyTo;
  }
  const blocked = new Set(
    (
      await deps.db.select({ id: blocks.blockedId }).from(blocks).where(eq(blocks.blockerId, actor.userId))
    ).map((r) => r.id),
  );
  const shown = chain.filter((c) => c.row.userId === null || !blocked.has(c.row.userId));
  return { messages: await present(deps, actor, access.channel.id, shown.reverse()) };
}

/**
 * The `pinned_messages` frame: the seed's fields plus the full message view, for the newest
 * PINNED_MAX pinned messages (oldest first).
 */
export async function listPinned(deps: ReadDeps, actor: ChatActor, channelId: number) {
  const newest = await loadMessages(
    deps,
    and(eq(chatMessages.channelId, channelId), isNotNull(chatMessages.pinnedAt), notBlockedBy(actor.userId)),
    { limit: CHAT_LIMITS.PINNED_MAX, newestFirst: true },
  );
  const rows = newest.reverse();
  const views = await present(deps, actor, channelId, rows);
  return views.map((view, i) => ({
    ...view,
    pinned_by: rows[i]!.row.pinnedBy,
    pinned_at: rows[i]!.row.pinnedAt?.toISOString() ?? null,
  }));
}
