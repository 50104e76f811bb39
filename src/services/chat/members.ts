import { and, asc, count, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { channelMembers, users } from '../../db/schema';
import { writeAudit } from '../audit/audit';
import { requireUser } from '../users/accounts';
import { announceVoiceRoomEvent } from '../voice/room-events';
import { readableChannel } from './access';
import { publishChatEvent } from './events';
import type { ChannelRole, ChatActor, ChatDeps } from './types';

// Channel members of seed 002 "Channel Members": listed by members and moderators+; added and
// removed by Admin+, the creator or a channel moderator; roles changed by Admin+ or the creator.

type Deps = Pick<ChatDeps, 'db' | 'bus' | 'log'>;

const audit = (deps: Deps, actor: ChatActor, action: string, channelId: number, details: object) =>
  writeAudit(deps.db, {
    actor: { userId: actor.userId, label: actor.username },
    action,
    targetType: 'channel',
    targetId: channelId,
    details: details as Record<string, unknown>,
    channelId,
  });

async function managed(deps: Deps, actor: ChatActor, channelId: number) {
  const access = await readableChannel(deps.db, { id: channelId }, actor);
  const isCreator = access.channel.createdBy === actor.userId;
  return { ...access, isCreator };
}

/** GET /api/chat/channels/{id}/members, a page at a time (oldest members first). */
export async function listMembers(
  deps: Deps,
  actor: ChatActor,
  channelId: number,
  page: { limit: number; offset: number } = { limit: 100, offset: 0 },
) {
  const access = await managed(deps, actor, channelId);
  if (access.role === null && !access.isAdmin) throw new AppError('FORBIDDEN');
  const [total] = await deps.db
    .select({ n: count() })
    .from(channelMembers)
    .where(eq(channelMembers.channelId, channelId));
  const rows = await deps.db
    .select({
      userId: channelMembers.userId,
      username: users.username,
      role: channelMembers.role,
      addedAt: channelMembers.addedAt,
    })
    .from(channelMembers)
    .innerJoin(users, eq(users.id, channelMembers.userId))
    .where(eq(channelMembers.channelId, channelId))
    .orderBy(asc(channelMembers.addedAt), asc(channelMembers.userId))
    .limit(page.limit)
    .offset(page.offset);
  return {
    members: rows.map((r) => ({
      user_id: r.userId,
      username: r.username,
      role: r.role as ChannelRole,
      added_at: r.addedAt.toISOString(),
    })),
    total: total?.n ?? 0,
    ...page,
  };
}

/** POST /api/chat/channels/{id}/members `{user_id}` */
export async function addMember(deps: Deps, actor: ChatActor, channelId: number, userId: number) {
  const access = await managed(deps, actor, channelId);
  if (!access.isModerator && !access.isCreator) throw new AppError('FORBIDDEN');
  await requireUser(deps.db, userId);
  const added = await deps.db
    .insert(channelMembers)
    .values({ channelId, userId, role: 'member' })
    .onConflictDoNothing()
    .returning({ userId: channelMembers.userId });
  if (added.length === 0) throw new AppError('CONFLICT', 'User is already a member');
  await audit(deps, actor, 'channel.member_add', channelId, { user_id: userId });
  return { success: true as const };
}

async function memberRole(deps: Deps, channelId: number, userId: number) {
  const [row] = await deps.db
    .select({ role: channelMembers.role })
    .from(channelMembers)
    .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, userId)));
  if (!row) throw new AppError('NOT_FOUND', 'Member not found');
  return row.role as ChannelRole;
}

/** PUT /api/chat/channels/{id}/members/{user_id} `{role}` */
export async function setMemberRole(
  deps: Deps,
  actor: ChatActor,
  channelId: number,
  userId: number,
  role: ChannelRole,
) {
  const access = await managed(deps, actor, channelId);
  if (!access.isAdmin && !access.isCreator) throw new AppError('FORBIDDEN');
  const before = await memberRole(deps, channelId, userId);
  await deps.db
    .update(channelMembers)
    .set({ role })
    .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, userId)));
  await audit(deps, actor, 'channel.member_role', channelId, { user_id: userId, from: before, to: role });
  return { success: true as const };
}

/**
 * DELETE /api/chat/channels/{id}/members/{user_id}: anyone may leave; Admin+ and the creator remove
 * anyone; a channel moderator removes plain members only (not other moderators).
 */
export async function removeMember(deps: Deps, actor: ChatActor, channelId: number, userId: number) {
  const access = await managed(deps, actor, channelId);
  const self = userId === actor.userId;
  if (!self && !access.isModerator && !access.isCreator) throw new AppError('FORBIDDEN');
  const role = await memberRole(deps, channelId, userId);
  if (!self && !access.isAdmin && !access.isCreator) {
    if (role === 'moderator' || userId === access.channel.createdBy) throw new AppError('FORBIDDEN');
  }
  await deps.db
    .delete(channelMembers)
    .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, userId)));
  await audit(deps, actor, 'channel.member_remove', channelId, { user_id: userId, role });
  if (access.channel.visibility === 'private') {
    // To the removed user the channel is gone: the same frame as a deletion, for their sockets only.
    await publishChatEvent(deps, {
      channel_id: channelId,
      frame: { type: 'channel_deleted', channel: access.channel.name },
      evict: [userId],
    });
    await announceVoiceRoomEvent(deps, { kind: 'recheck', room: access.channel.name });
  }
  return { success: true as const };
}
