import { and, eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { channelMembers, channels, users } from '../../db/schema';
import { isBannedFromStreamChannel } from '../streams/chat-bans';
import { effectiveState, LEVEL, STATE } from '../users/policy';
import type { ChannelRole, ChannelRow, ChatActor, PayloadRole } from './types';

// Who may do what in a channel (seed 002 "Channel Permissions"). Admin+ are moderator+ in every
// channel, private ones included; everyone else reads public channels and the private ones they
// are a member of.

export type ChannelAccess = {
  channel: ChannelRow;
  /** The caller's membership role, or null. */
  role: ChannelRole | null;
  canRead: boolean;
  /** A channel moderator there, or Admin+. */
  isModerator: boolean;
  isAdmin: boolean;
  /** Banned from the stream that owns this channel (API.md §7): no reading, no writing. */
  banned: boolean;
};

export const isAdmin = (actor: { level: number }) => actor.level >= LEVEL.ADMIN;

const notFound = () => new AppError('NOT_FOUND', 'Channel not found');

export async function accessOf(db: Db, channel: ChannelRow, actor: ChatActor): Promise<ChannelAccess> {
  const [member] = await db
    .select({ role: channelMembers.role })
    .from(channelMembers)
    .where(and(eq(channelMembers.channelId, channel.id), eq(channelMembers.userId, actor.userId)));
  const role = (member?.role as ChannelRole | undefined) ?? null;
  const admin = isAdmin(actor);
  const banned =
    channel.isStreamChannel && !admin && (await isBannedFromStreamChannel(db, channel.id, actor.userId));
  return {
    channel,
    role,
    canRead: !banned && (channel.visibility === 'public' || role !== null || admin),
    isModerator: !banned && (role === 'moderator' || admin),
    isAdmin: admin,
    banned,
  };
}

/** The channel by id, readable by the caller; a private channel of others is a 404 (no probing). */
export async function readableChannel(db: Db, ref: { id: number } | { name: string }, actor: ChatActor) {
  const where = 'id' in ref ? eq(channels.id, ref.id) : eq(channels.name, ref.name);
  const [channel] = await db.select().from(channels).where(where);
  if (!channel) throw notFound();
  const access = await accessOf(db, channel, actor);
  if (access.banned) throw new AppError('FORBIDDEN', "You are banned from this stream's chat");
  if (!access.canRead) throw notFound();
  return access;
}

/**
 * Timed-out and banned users may read but not act (API.md §1 states); for the others, returns
 * what senders need of the same row (their anonymous setting).
 */
export async function assertActive(db: Db, userId: number): Promise<{ anonymous: boolean }> {
  const [row] = await db
    .select({ state: users.state, expiresAt: users.stateExpiresAt, anonymous: users.anonymous })
    .from(users)
    .where(eq(users.id, userId));
  const state = row ? effectiveState(row.state, row.expiresAt) : STATE.BANNED;
  if (state === STATE.BANNED) throw new AppError('FORBIDDEN', 'Your account has been banned');
  if (state !== STATE.ACTIVE) {
    throw new AppError('FORBIDDEN', 'Your account is temporarily restricted', {
      ...(row?.expiresAt && { expires_at: row.expiresAt.toISOString() }),
    });
  }
  return { anonymous: row?.anonymous ?? false };
}

/** Readonly channels take messages from channel moderators and Admin+ only. */
export function assertCanSend(access: ChannelAccess) {
  if (access.channel.mode === 'readonly' && !access.isModerator)
    throw new AppError('FORBIDDEN', 'This channel is read-only');
}

export function assertModerator(access: ChannelAccess) {
  if (!access.isModerator) throw new AppError('FORBIDDEN', 'Moderator access required');
}

/** `role` of a user in payloads: their global level first, then their role in the channel. */
export function payloadRole(level: number, channelModerator: boolean): PayloadRole {
  if (level >= LEVEL.OWNER) return 'owner';
  if (level >= LEVEL.ADMIN) return 'admin';
  return channelModerator ? 'moderator' : 'user';
}

/** Ids of the channel's moderators (for payload roles and who sees anonymous authors). */
export async function moderatorIdsOf(db: Db, channelId: number): Promise<Set<number>> {
  const rows = await db
    .select({ userId: channelMembers.userId })
    .from(channelMembers)
    .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.role, 'moderator')));
  return new Set(rows.map((r) => r.userId));
}
