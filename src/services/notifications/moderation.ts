import type { NotifyInput } from './notify';

// `moderation` notifications (API.md §4): what the user is told when an admin warns, times out or
// bans them, or when a room's owner or moderators act on them (with the room in `data` and a link).

type Reason = { reason?: string | null | undefined };

type Action =
  | ({ action: 'warn' } & Reason)
  | ({ action: 'timeout'; minutes: number; expiresAt: Date } & Reason)
  | ({ action: 'ban' } & Reason);

const TITLES = { warn: 'Warning', timeout: 'Timed out', ban: 'Account banned' } as const;

const minutesText = (m: number) => (m === 1 ? '1 minute' : `${m} minutes`);

const withReason = (what: string, reason: string | null | undefined) =>
  reason ? `${what}: ${reason}` : `${what}.`;

export function moderationNotice(userId: number, a: Action): NotifyInput {
  const what =
    a.action === 'warn'
      ? 'You were warned'
      : a.action === 'timeout'
        ? `You were timed out for ${minutesText(a.minutes)}`
        : 'You were banned';
  return {
    userIds: [userId],
    type: 'moderation',
    title: TITLES[a.action],
    message: withReason(what, a.reason),
    data: {
      action: a.action,
      reason: a.reason ?? null,
      ...(a.action === 'timeout' && { expires_at: a.expiresAt.toISOString() }),
    },
  };
}

export type RoomNoticeAction = 'warn' | 'timeout' | 'mute' | 'kick' | 'ban';

type RoomAction = Reason & {
  action: RoomNoticeAction;
  room: { id: number; name: string };
  /** Timeouts, timed mutes and bans; null for one that lasts until it is lifted. */
  minutes?: number | null | undefined;
  expiresAt?: Date | null | undefined;
};

const ROOM_TITLES: Record<RoomNoticeAction, string> = {
  warn: 'Warning in a chat',
  timeout: 'Timed out in a chat',
  mute: 'Muted in a chat',
  kick: 'Removed from a chat',
  ban: 'Banned from a chat',
};

/** A room moderation action on `userId`, linking to the room (`/chats/{id}`). */
export function roomModerationNotice(userId: number, a: RoomAction): NotifyInput {
  const room = `"${a.room.name}"`;
  const length = a.minutes ? ` for ${minutesText(a.minutes)}` : '';
  const what = {
    warn: `You were warned in ${room}`,
    timeout: `You were timed out in ${room}${length}`,
    mute: `You were muted in ${room}${length || ' until a moderator unmutes you'}`,
    kick: `You were removed from ${room}`,
    ban: `You were banned from ${room}${length}`,
  }[a.action];
  return {
    userIds: [userId],
    type: 'moderation',
    title: ROOM_TITLES[a.action],
    message: withReason(what, a.reason),
    link: `/chats/${a.room.id}`,
    data: {
      action: a.action,
      room_id: a.room.id,
      reason: a.reason ?? null,
      expires_at: a.expiresAt ? a.expiresAt.toISOString() : null,
    },
  };
}
