import { and, desc, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { streamBans, users } from '../../db/schema';
import { inTransaction } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { LEVEL } from '../users/policy';
import { ownStream } from './access';
import { evictFromStreamChannel } from './chat-channel';
import type { StreamActor, StreamDeps } from './types';

// Stream Moderation (seed 002): the owner bans users from the stream's chat channel. A banned user
// can no longer join, read or write that channel (their open sockets leave it at once); watching
// the stream itself stays possible, as the seed scopes bans to the chat.

const banView = (row: {
  userId: number;
  username: string;
  reason: string | null;
  bannedBy: number | null;
  createdAt: Date;
}) => ({
  user_id: row.userId,
  username: row.username,
  reason: row.reason,
  banned_by: row.bannedBy,
  created_at: row.createdAt.toISOString(),
});

const bansQuery = (deps: Pick<StreamDeps, 'db'>) =>
  deps.db
    .select({
      userId: streamBans.userId,
      username: users.username,
      reason: streamBans.reason,
      bannedBy: streamBans.bannedBy,
      createdAt: streamBans.createdAt,
    })
    .from(streamBans)
    .innerJoin(users, eq(users.id, streamBans.userId));

/** GET /api/streams/{id}/bans (owner only), newest first. */
export async function listStreamBans(deps: StreamDeps, actor: StreamActor, streamId: number) {
  await ownStream(deps.db, actor.userId, streamId);
  const rows = await bansQuery(deps)
    .where(eq(streamBans.streamId, streamId))
    .orderBy(desc(streamBans.createdAt), desc(streamBans.userId));
  return { bans: rows.map(banView) };
}

/** POST /api/streams/{id}/bans `{user_id, reason}`: a second ban of the same user updates the reason. */
export async function banFromStream(
  deps: StreamDeps,
  actor: StreamActor,
  streamId: number,
  input: { user_id: number; reason?: string | null | undefined },
) {
  const stream = await ownStream(deps.db, actor.userId, streamId);
  if (input.user_id === actor.userId) throw new AppError('BAD_REQUEST', 'You cannot ban yourself');
  const [target] = await deps.db
    .select({ id: users.id, level: users.permissionLevel })
    .from(users)
    .where(eq(users.id, input.user_id));
  if (!target) throw new AppError('NOT_FOUND', 'User not found');
  // Admins moderate every channel (API.md §0): a stream owner cannot shut them out.
  if (target.level >= LEVEL.ADMIN) throw new AppError('FORBIDDEN', 'Admins cannot be banned from a stream');
  const reason = input.reason?.trim() || null;
  await inTransaction(deps.db, async (tx) => {
    await tx
      .insert(streamBans)
      .values({ streamId, userId: target.id, reason, bannedBy: actor.userId })
      .onConflictDoUpdate({
        target: [streamBans.streamId, streamBans.userId],
        set: { reason, bannedBy: actor.userId },
      });
    await writeAudit(tx, {
      actor: { userId: actor.userId, label: actor.username },
      action: 'stream.ban',
      targetType: 'user',
      targetId: target.id,
      reason,
      details: { stream_id: streamId },
    });
  });
  if (stream.chatChannelId !== null) await evictFromStreamChannel(deps, stream.chatChannelId, target.id);
  const [row] = await bansQuery(deps).where(
    and(eq(streamBans.streamId, streamId), eq(streamBans.userId, target.id)),
  );
  return banView(row!);
}

/** DELETE /api/streams/{id}/bans/{user_id}: the user may chat again. */
export async function unbanFromStream(
  deps: StreamDeps,
  actor: StreamActor,
  streamId: number,
  userId: number,
) {
  await ownStream(deps.db, actor.userId, streamId);
  const gone = await inTransaction(deps.db, async (tx) => {
    const rows = await tx
      .delete(streamBans)
      .where(and(eq(streamBans.streamId, streamId), eq(streamBans.userId, userId)))
      .returning({ userId: streamBans.userId });
    if (rows.length > 0) {
      await writeAudit(tx, {
        actor: { userId: actor.userId, label: actor.username },
        action: 'stream.unban',
        targetType: 'user',
        targetId: userId,
        details: { stream_id: streamId },
      });
    }
    return rows.length > 0;
  });
  if (!gone) throw new AppError('NOT_FOUND', 'Ban not found');
  return { success: true as const };
}
