import { type AnyColumn, and, desc, eq, or, type SQL, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { blocks, users } from '../../db/schema';
import { requireUser } from './accounts';

// User blocking of seed 002: hides the blocked user's messages from the blocker, and DMs are
// refused both ways while a block exists (`isBlockedEitherWay`).

/**
 * A row whose author (`authorColumn`, null for deleted accounts) is not someone `viewerId` blocked:
 * the filter every message read applies (history, lists, unread counts, search).
 */
export const authorNotBlockedBy = (authorColumn: AnyColumn, viewerId: number): SQL =>
  sql`(${authorColumn} is null or ${authorColumn} not in
    (select ${blocks.blockedId} from ${blocks} where ${blocks.blockerId} = ${viewerId}))`;

/** GET /api/blocks: the caller's blocks, newest first. */
export async function listBlocks(db: Db, opts: { userId: number; limit: number; offset: number }) {
  const rows = await db
    .select({ id: users.id, username: users.username, blockedAt: blocks.createdAt })
    .from(blocks)
    .innerJoin(users, eq(users.id, blocks.blockedId))
    .where(eq(blocks.blockerId, opts.userId))
    .orderBy(desc(blocks.createdAt), desc(blocks.blockedId))
    .limit(opts.limit)
    .offset(opts.offset);
  return {
    blocked_users: rows.map((r) => ({
      id: r.id,
      username: r.username,
      blocked_at: r.blockedAt.toISOString(),
    })),
  };
}

/** POST /api/blocks/{user_id}: idempotent; a second block keeps the first one's time. */
export async function blockUser(db: Db, opts: { userId: number; targetId: number }) {
  if (opts.userId === opts.targetId) throw new AppError('BAD_REQUEST', 'You cannot block yourself');
  await requireUser(db, opts.targetId);
  await db.insert(blocks).values({ blockerId: opts.userId, blockedId: opts.targetId }).onConflictDoNothing();
  return { success: true as const };
}

/** DELETE /api/blocks/{user_id} */
export async function unblockUser(db: Db, opts: { userId: number; targetId: number }) {
  const rows = await db
    .delete(blocks)
    .where(and(eq(blocks.blockerId, opts.userId), eq(blocks.blockedId, opts.targetId)))
    .returning({ blockedId: blocks.blockedId });
  if (rows.length === 0) throw new AppError('NOT_FOUND', 'Block not found');
  return { success: true as const };
}

/** True when either user blocked the other (DMs, matchmaking). */
export async function isBlockedEitherWay(db: Db, a: number, b: number): Promise<boolean> {
  const [row] = await db
    .select({ blockerId: blocks.blockerId })
    .from(blocks)
    .where(
      or(
        and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)),
        and(eq(blocks.blockerId, b), eq(blocks.blockedId, a)),
      ),
    )
    .limit(1);
  return row !== undefined;
}
