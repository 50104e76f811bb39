import { and, count, eq, gt, inArray, isNull, ne, or, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import { channelMembers, channels, chatMessages, chatReads } from '../../db/schema';
import { writeAudit } from '../audit/audit';
import { announceVoiceRoomEvent } from '../voice/room-events';
import { assertActive, isAdmin, readableChannel } from './access';
import { publishChatEvent } from './events';
import { CHAT_LIMITS, type ChannelRow, type ChatActor, type ChatDeps } from './types';
import { notBlockedBy } from './views';

// Channels of seed 002: listing what the caller may read, and creating, changing and deleting them
// under the rules of API.md §8. Every change is audited; renames and deletions reach open sockets.

type ChannelPatch = {
  name?: string | undefined;
  description?: string | undefined;
  visibility?: 'public' | 'private' | undefined;
  mode?: 'open' | 'readonly' | undefined;
};

export function channelView(c: ChannelRow) {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    // Seed 002 shows `"is_default": 1` (and `is_stream_channel: false`): an integer flag.
    is_default: (c.isDefault ? 1 : 0) as 0 | 1,
    is_stream_channel: c.isStreamChannel,
    visibility: c.visibility as 'public' | 'private',
    mode: c.mode as 'open' | 'readonly',
    created_by: c.createdBy,
    created_at: c.createdAt.toISOString(),
  };
}

const audit = (deps: Pick<ChatDeps, 'db'>, actor: ChatActor, action: string, id: number, details = {}) =>
  writeAudit(deps.db, {
    actor: { userId: actor.userId, label: actor.username },
    action,
    targetType: 'channel',
    targetId: id,
    details,
  });

export type ChannelPage = { limit: number; offset: number };
export const CHANNEL_PAGE_DEFAULT: ChannelPage = { limit: 100, offset: 0 };

/**
 * GET /api/chat/channels: public channels and the caller's private ones (all for Admin+), default
 * first then by name, a page at a time, with unread counts.
 */
export async function listChannels(
  deps: Pick<ChatDeps, 'db'>,
  actor: ChatActor,
  page: ChannelPage = CHANNEL_PAGE_DEFAULT,
) {
  const { db } = deps;
  const mine = db
    .select({ id: channelMembers.channelId })
    .from(channelMembers)
    .where(eq(channelMembers.userId, actor.userId));
  const visible = isAdmin(actor)
    ? undefined
    : or(eq(channels.visibility, 'public'), inArray(channels.id, mine));
  const [total] = await db.select({ n: count() }).from(channels).where(visible);
  const rows = await db
    .select()
    .from(channels)
    .where(visible)
    .orderBy(sql`${channels.isDefault} desc`, channels.name)
    .limit(page.limit)
    .offset(page.offset);
  // Unread: newer than the caller's read marker, written by someone else the caller did not block.
  const unread = rows.length
    ? await db
        .select({ channelId: chatMessages.channelId, n: count() })
        .from(chatMessages)
        .leftJoin(
          chatReads,
          and(eq(chatReads.channelId, chatMessages.channelId), eq(chatReads.userId, actor.userId)),
        )
        .where(
          and(
            inArray(
              chatMessages.channelId,
              rows.map((c) => c.id),
            ),
            or(isNull(chatMessages.userId), ne(chatMessages.userId, actor.userId)),
            notBlockedBy(actor.userId),
            or(isNull(chatReads.lastReadId), gt(chatMessages.id, chatReads.lastReadId)),
          ),
        )
        .groupBy(chatMessages.channelId)
    : [];
  const unreadOf = new Map(unread.map((u) => [u.channelId, u.n]));
  return {
    channels: rows.map((c) => ({ ...channelView(c), unread_count: unreadOf.get(c.id) ?? 0 })),
    total: total?.n ?? 0,
    ...page,
  };
}

async function assertNameFree(deps: Pick<ChatDeps, 'db'>, name: string, exceptId?: number) {
  const [taken] = await deps.db.select({ id: channels.id }).from(channels).where(eq(channels.name, name));
  if (taken && taken.id !== exceptId) throw new AppError('CONFLICT', 'Channel name is already taken');
}

/** POST /api/chat/channels: Admin+ create public channels, anyone active private ones (10 each). */
export async function createChannel(
  deps: Pick<ChatDeps, 'db'>,
  actor: ChatActor,
  input: { name: string; description?: string | undefined } & ChannelPatch,
) {
  const { db } = deps;
  // Timed-out and banned users may read but not create (API.md §8: "any active user").
  await assertActive(db, actor.userId);
  const visibility = input.visibility ?? (isAdmin(actor) ? 'public' : 'private');
  if (visibility === 'public' && !isAdmin(actor))
    throw new AppError('FORBIDDEN', 'Only admins can create public channels');
  // Stream channels come with streams and count against the stream limit instead.
  const [made] = await db
    .select({ n: count() })
    .from(channels)
    .where(and(eq(channels.createdBy, actor.userId), eq(channels.isStreamChannel, false)));
  if ((made?.n ?? 0) >= CHAT_LIMITS.CHANNELS_PER_USER)
    throw new AppError('FORBIDDEN', `You can create at most ${CHAT_LIMITS.CHANNELS_PER_USER} channels`);
  await assertNameFree(deps, input.name);
  const channel = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(channels)
      .values({
        name: input.name,
        description: input.description ?? '',
        visibility,
        mode: input.mode ?? 'open',
        createdBy: actor.userId,
      })
      .returning();
    await tx.insert(channelMembers).values({ channelId: row!.id, userId: actor.userId, role: 'moderator' });
    return row!;
  });
  await audit(deps, actor, 'channel.create', channel.id, { name: channel.name, visibility });
  return channelView(channel);
}

/** PUT /api/chat/channels/{id}: Admin+ or the channel's moderators; only Admin+ make it public. */
export async function updateChannel(deps: ChatDeps, actor: ChatActor, id: number, patch: ChannelPatch) {
  const { db } = deps;
  const access = await readableChannel(db, { id }, actor);
  if (!access.isModerator) throw new AppError('FORBIDDEN');
  const before = access.channel;
  if (before.isStreamChannel && patch.visibility !== undefined && patch.visibility !== before.visibility)
    throw new AppError('BAD_REQUEST', "A stream channel follows its stream's visibility");
  if (patch.visibility === 'public' && before.visibility !== 'public' && !access.isAdmin)
    throw new AppError('FORBIDDEN', 'Only admins can make a channel public');
  if (patch.visibility === 'private' && before.isDefault)
    throw new AppError('BAD_REQUEST', 'The default channel must stay public');
  if (patch.name !== undefined && patch.name !== before.name) await assertNameFree(deps, patch.name, id);
  const [after] = await db
    .update(channels)
    .set({
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.description !== undefined && { description: patch.description }),
      ...(patch.visibility !== undefined && { visibility: patch.visibility }),
      ...(patch.mode !== undefined && { mode: patch.mode }),
    })
    .where(eq(channels.id, id))
    .returning();
  await audit(deps, actor, 'channel.update', id, { before: channelView(before), patch });
  if (after!.name !== before.name) {
    // Everyone's channel list shows public channels; a private one concerns its sockets only.
    await publishChatEvent(deps, {
      channel_id: after!.visibility === 'public' ? null : id,
      frame: { type: 'channel_renamed', old_name: before.name, new_name: after!.name },
      renamed: { id, name: after!.name },
    });
    await announceVoiceRoomEvent(deps, { kind: 'rename', from: before.name, to: after!.name });
  }
  if (after!.visibility === 'private' && before.visibility === 'public') {
    await publishChatEvent(deps, {
      channel_id: id,
      frame: { type: 'channel_deleted', channel: after!.name },
      evict: 'non_members',
    });
    await announceVoiceRoomEvent(deps, { kind: 'recheck', room: after!.name });
  }
  return channelView(after!);
}

/** DELETE /api/chat/channels/{id}: Admin+ or its creator; never the default channel. */
export async function deleteChannel(deps: ChatDeps, actor: ChatActor, id: number) {
  const { db } = deps;
  const access = await readableChannel(db, { id }, actor);
  const channel = access.channel;
  if (!access.isAdmin && channel.createdBy !== actor.userId) throw new AppError('FORBIDDEN');
  if (channel.isDefault) throw new AppError('BAD_REQUEST', 'The default channel cannot be deleted');
  if (channel.isStreamChannel)
    throw new AppError(
      'BAD_REQUEST',
      'A stream channel is deleted with its stream (DELETE /api/streams/{id})',
    );
  await db.delete(channels).where(eq(channels.id, id));
  await audit(deps, actor, 'channel.delete', id, { name: channel.name });
  await publishChatEvent(deps, {
    channel_id: id,
    frame: { type: 'channel_deleted', channel: channel.name },
    closes_channel: true,
  });
  await announceVoiceRoomEvent(deps, { kind: 'recheck', room: channel.name });
  return { success: true as const };
}
