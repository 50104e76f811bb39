import { eq, sql } from 'drizzle-orm';
import { hashPassword, type SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { users } from '../../db/schema';
import { recordActivity } from '../activity/activity';
import { inTransaction } from '../admin/hierarchy';
import { deliverActiveAnnouncements } from '../announcements/announcements';
import { enqueueWebhookEvent } from '../webhooks/outbox';
import { LEVEL } from './policy';

export type UserRow = typeof users.$inferSelect;

const AVATAR_COLORS = [
  '#3b82f6',
  '#ef4444',
  '#10b981',
  '#f59e0b',
  '#8b5cf6',
  '#ec4899',
  '#14b8a6',
  '#f97316',
];

export async function findUserByUsername(db: Db, username: string): Promise<UserRow | null> {
  const [row] = await db
    .select()
    .from(users)
    .where(sql`lower(${users.username}) = lower(${username})`)
    .limit(1);
  return row ?? null;
}

export async function findUserById(db: Db, id: number): Promise<UserRow | null> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row ?? null;
}

export async function requireUser(db: Db, id: number): Promise<UserRow> {
  const user = await findUserById(db, id);
  if (!user) throw new AppError('NOT_FOUND', 'User not found');
  return user;
}

/**
 * Usernames are unique without regard to case; the unique index settles races. With `secretBox`
 * (every path that creates accounts for real passes it) the `user.joined` webhook event is queued
 * in the same transaction as the row.
 */
export async function createUser(
  db: Db,
  opts: { username: string; password?: string | null; level?: number; secretBox?: SecretBox },
): Promise<UserRow> {
  if (await findUserByUsername(db, opts.username))
    throw new AppError('CONFLICT', 'Username is already taken');
  const passwordHash = opts.password ? await hashPassword(opts.password) : null;
  const { secretBox } = opts;
  try {
    return await inTransaction(db, async (tx) => {
      const [row] = await tx
        .insert(users)
        .values({
          username: opts.username,
          passwordHash,
          permissionLevel: opts.level ?? LEVEL.USER,
          avatarColor: AVATAR_COLORS[Math.floor(Math.random() * AVATAR_COLORS.length)]!,
          avatarInitials: opts.username.slice(0, 2).toUpperCase(),
        })
        .returning();
      if (secretBox) {
        await enqueueWebhookEvent(
          { db: tx, secretBox },
          {
            event: 'user.joined',
            data: { user_id: row!.id, username: row!.username, created_at: row!.createdAt.toISOString() },
          },
        );
      }
      await deliverActiveAnnouncements(tx, row!.id);
      await recordActivity(tx, { userId: row!.id, action: 'registered', details: 'Joined Portal' });
      return row!;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('CONFLICT', 'Username is already taken');
    throw err;
  }
}

/** PostgreSQL unique_violation, as reported by postgres.js and PGlite (possibly wrapped by drizzle). */
export function isUniqueViolation(err: unknown): boolean {
  let cur: unknown = err;
  for (let i = 0; cur && i < 4; i++) {
    if ((cur as { code?: string }).code === '23505') return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}
