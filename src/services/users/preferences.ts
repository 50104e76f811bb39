import { eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { users } from '../../db/schema';
import { ownProfile } from './views';

// Self-service preferences of seed 002 (status, nickname, avatar, anonymous mode). Inputs arrive
// validated by the router's schemas; each call returns the updated own profile.

type UserUpdate = Partial<
  Pick<
    typeof users.$inferInsert,
    'status' | 'statusMessage' | 'nickname' | 'avatarColor' | 'avatarEmoji' | 'avatarInitials' | 'anonymous'
  >
>;

async function updateOwnUser(db: Db, userId: number, changes: UserUpdate) {
  const [row] = await db
    .update(users)
    .set({ ...changes, updatedAt: new Date() })
    .where(eq(users.id, userId))
    .returning();
  if (!row) throw new AppError('NOT_FOUND', 'User not found');
  return ownProfile(row);
}

/** Empty text clears, as null does. */
const orNull = (s: string | null) => (s === null || s === '' ? null : s);

/** PUT /api/me/status: `statusMessage` undefined keeps the current message; null or "" clears it. */
export async function setStatus(
  db: Db,
  opts: { userId: number; status: string; statusMessage?: string | null | undefined },
) {
  return updateOwnUser(db, opts.userId, {
    status: opts.status,
    ...(opts.statusMessage !== undefined && { statusMessage: orNull(opts.statusMessage) }),
  });
}

/** PUT /api/me/nickname: "" clears the nickname. */
export async function setNickname(db: Db, opts: { userId: number; nickname: string }) {
  return updateOwnUser(db, opts.userId, { nickname: orNull(opts.nickname) });
}

/** PUT /api/me/avatar: omitted fields keep their value; emoji null or "" clears the emoji. */
export async function setAvatar(
  db: Db,
  opts: {
    userId: number;
    color?: string | undefined;
    emoji?: string | null | undefined;
    initials?: string | undefined;
  },
) {
  return updateOwnUser(db, opts.userId, {
    ...(opts.color !== undefined && { avatarColor: opts.color }),
    ...(opts.emoji !== undefined && { avatarEmoji: orNull(opts.emoji) }),
    ...(opts.initials !== undefined && { avatarInitials: opts.initials }),
  });
}

/** PUT /api/me/anonymous: messages sent while anonymous stay anonymous in history. */
export async function setAnonymous(db: Db, opts: { userId: number; anonymous: boolean }) {
  return updateOwnUser(db, opts.userId, { anonymous: opts.anonymous });
}
