import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { blocks } from '../../db/schema';
import { moderatorIdsOf } from './access';
import { type ChatFrame, publishChatEvent } from './events';
import type { ChatDeps } from './types';
import { messageView, type OpenMessage, viewContext } from './views';

// Publishing a message to its channel: one masked frame for everyone, one real frame for those
// entitled to see an anonymous author, and the list of users who blocked the author.

/** Users who blocked `userId`: frames by that user are not delivered to them. */
export async function blockersOf(db: Db, userId: number): Promise<number[]> {
  const rows = await db.select({ id: blocks.blockerId }).from(blocks).where(eq(blocks.blockedId, userId));
  return rows.map((r) => r.id);
}

export type MessageFrameOf = (view: ReturnType<typeof messageView>) => ChatFrame;

const messageFrame: MessageFrameOf = (view) => ({ type: 'message', ...view });

/**
 * Publishes the frame of a freshly stored message (`message`, or what `frameOf` wraps it in, e.g.
 * `poll_created`); returns the author's (real) frame.
 */
export async function publishMessage(deps: ChatDeps, m: OpenMessage, frameOf = messageFrame) {
  const moderatorIds = await moderatorIdsOf(deps.db, m.row.channelId);
  // Only messages just stored are published: nobody has reacted to them yet.
  const ctx = await viewContext(deps, [m], moderatorIds, undefined, { withReactions: false });
  const real = frameOf(messageView(m, true, ctx));
  const masked = m.row.anonymous ? frameOf(messageView(m, false, ctx)) : real;
  const authorId = m.row.userId;
  await publishChatEvent(deps, {
    channel_id: m.row.channelId,
    frame: masked,
    ...(m.row.anonymous && {
      real: { frame: real, user_ids: [...(authorId === null ? [] : [authorId]), ...moderatorIds] },
    }),
    ...(authorId !== null && { hidden_from: await blockersOf(deps.db, authorId) }),
  });
  return real;
}
