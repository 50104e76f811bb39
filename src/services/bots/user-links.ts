import { and, eq, sql } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import { botUserLinks, users } from '../../db/schema';
import { createUser, type UserRow } from '../users/accounts';

// Users reach Portal through bots (API.md §2): a link ties a Portal user to one identity on a
// bot's platform, and login codes are only ever handed to a bot linked to the user.

// Advisory-lock namespace (two-int form, apart from the migration lock's single bigint).
const LINK_LOCK = 7_231_102;

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
const PICTOGRAPHIC = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;

/** One emoji: a single grapheme cluster that is pictographic (flags and keycaps included). */
export const isEmoji = (value: string) =>
  value.length <= 32 && [...segmenter.segment(value)].length === 1 && PICTOGRAPHIC.test(value);

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

export async function findLinkedUser(opts: {
  db: Db;
  botId: number;
  platformUserId: string;
}): Promise<UserRow | null> {
  const [row] = await opts.db
    .select({ user: users })
    .from(botUserLinks)
    .innerJoin(users, eq(users.id, botUserLinks.userId))
    .where(and(eq(botUserLinks.botId, opts.botId), eq(botUserLinks.platformUserId, opts.platformUserId)))
    .limit(1);
  return row?.user ?? null;
}

/**
 * POST /bot/users: the user already linked to (bot, platform identity), or a new password-less
 * user with that username, linked to it. An existing account is never claimed by username
 * (409): that would let any bot receive anyone's login codes.
 */
export async function linkBotUser(opts: {
  db: Db;
  /** Seals the `user.joined` webhook event of a new account. */
  secretBox?: SecretBox;
  botId: number;
  platformUserId: string;
  username: string;
  /** An http(s) URL or an emoji; only emoji are stored (users have no avatar URL column yet). */
  avatar?: string | undefined;
}): Promise<{ user: UserRow; created: boolean }> {
  const linked = await findLinkedUser(opts);
  if (linked) return { user: linked, created: false };

  // Serialized per identity, and one transaction so a failed link leaves no orphan account.
  return opts.db.transaction(async (tx) => {
    await tx.execute(
      sql`select pg_advisory_xact_lock(${sql.raw(String(LINK_LOCK))}, hashtext(${`${opts.botId}:${opts.platformUserId}`}::text))`,
    );
    // The transaction has the query API of Db (createUser takes a Db). Only it may be used in
    // here: PGlite queues every other query behind the open transaction.
    const txDb = tx as unknown as Db;
    const raced = await findLinkedUser({ ...opts, db: txDb });
    if (raced) return { user: raced, created: false };

    let user = await createUser(txDb, {
      username: opts.username,
      ...(opts.secretBox && { secretBox: opts.secretBox }),
    });
    if (opts.avatar && isEmoji(opts.avatar)) {
      const [updated] = await tx
        .update(users)
        .set({ avatarEmoji: opts.avatar })
        .where(eq(users.id, user.id))
        .returning();
      user = updated ?? user;
    }
    await tx
      .insert(botUserLinks)
      .values({ botId: opts.botId, userId: user.id, platformUserId: opts.platformUserId });
    return { user, created: true };
  });
}
