import type { NotifyInput } from './notify';

// `moderation` notifications (API.md §4): what the user is told when an admin warns, times out or
// bans them. Rooms add `kicked` with the room in `data` and a link to it.

type Action =
  | { action: 'warn'; reason?: string | null | undefined }
  | { action: 'timeout'; reason?: string | null | undefined; minutes: number; expiresAt: Date }
  | { action: 'ban'; reason?: string | null | undefined };

const TITLES = { warn: 'Warning', timeout: 'Timed out', ban: 'Account banned' } as const;

const minutesText = (m: number) => (m === 1 ? '1 minute' : `${m} minutes`);

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
    message: a.reason ? `${what}: ${a.reason}` : `${what}.`,
    data: {
      action: a.action,
      reason: a.reason ?? null,
      ...(a.action === 'timeout' && { expires_at: a.expiresAt.toISOString() }),
    },
  };
}
