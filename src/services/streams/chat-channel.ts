import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { channelMembers, channels } from '../../db/schema';
import { publishChatEvent } from '../chat/events';
import { announceVoiceRoomEvent } from '../voice/room-events';
import type { StreamDeps } from './types';

// Every stream owns a chat channel (API.md §7): `stream-<id>` (suffixed if that name is taken), flagged `is_stream_channel`, its
// description the stream title, public while the stream is public and private (the owner only)
// otherwise. The owner moderates it. It is made and deleted with the stream, in the same
// transaction; the channel API cannot delete it or change its visibility on its own.

type PushDeps = Pick<StreamDeps, 'bus' | 'log'>;

export const streamChannelName = (streamId: number) => `stream-${streamId}`;

const visibilityOf = (isPublic: boolean) => (isPublic ? 'public' : 'private');

export async function createStreamChannel(
  tx: Db,
  stream: { id: number; name: string; userId: number; title: string; isPublic: boolean },
): Promise<number> {
  const [channel] = await tx
    .insert(channels)
    .values({
      name: stream.name,
      description: stream.title,
      visibility: visibilityOf(stream.isPublic),
      isStreamChannel: true,
      createdBy: stream.userId,
    })
    .returning({ id: channels.id });
  await tx
    .insert(channelMembers)
    .values({ channelId: channel!.id, userId: stream.userId, role: 'moderator' });
  return channel!.id;
}

/** Follows the stream's title and visibility; sockets of readers who lost access leave it. */
export async function syncStreamChannel(
  deps: PushDeps & { db: Db },
  channelId: number,
  stream: { title: string; isPublic: boolean },
) {
  const [before] = await deps.db.select().from(channels).where(eq(channels.id, channelId));
  if (!before) return;
  const visibility = visibilityOf(stream.isPublic);
  await deps.db
    .update(channels)
    .set({ description: stream.title, visibility })
    .where(eq(channels.id, channelId));
  if (before.visibility === 'public' && visibility === 'private') {
    await publishChatEvent(deps, {
      channel_id: channelId,
      frame: { type: 'channel_deleted', channel: before.name },
      evict: 'non_members',
    });
    await announceVoiceRoomEvent(deps, { kind: 'recheck', room: before.name });
  }
}

/** Deletes the channel row (in the caller's transaction); `announce` after it committed. */
export async function deleteStreamChannel(tx: Db, channelId: number) {
  const [gone] = await tx
    .delete(channels)
    .where(eq(channels.id, channelId))
    .returning({ name: channels.name });
  return gone ?? null;
}

export async function announceStreamChannelGone(deps: PushDeps, channel: { id: number; name: string }) {
  await publishChatEvent(deps, {
    channel_id: channel.id,
    frame: { type: 'channel_deleted', channel: channel.name },
    closes_channel: true,
  });
  await announceVoiceRoomEvent(deps, { kind: 'recheck', room: channel.name });
}

/** A banned user's sockets leave the channel (to them it is gone) and their voice session ends. */
export async function evictFromStreamChannel(deps: PushDeps & { db: Db }, channelId: number, userId: number) {
  const [channel] = await deps.db
    .select({ name: channels.name })
    .from(channels)
    .where(eq(channels.id, channelId));
  if (!channel) return;
  await publishChatEvent(deps, {
    channel_id: channelId,
    frame: { type: 'channel_deleted', channel: channel.name },
    evict: [userId],
  });
  await announceVoiceRoomEvent(deps, { kind: 'recheck', room: channel.name });
}
