import { eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { users } from '../../db/schema';

/**
 * Runs `insert` only while the user holds fewer than `max` of something (`count`). The user's row
 * is locked for the transaction, so concurrent creations by one user cannot overshoot the cap.
 */
export function withinUserCap<T>(
  db: Db,
  opts: {
    userId: number;
    max: number;
    what: string;
    count(tx: Db): Promise<number>;
    insert(tx: Db): Promise<T>;
  },
): Promise<T> {
  return db.transaction(async (trx) => {
    const tx = trx as unknown as Db;
    await tx.select({ id: users.id }).from(users).where(eq(users.id, opts.userId)).for('update');
    if ((await opts.count(tx)) >= opts.max)
      throw new AppError('FORBIDDEN', `You can have at most ${opts.max} ${opts.what}`, {
        reason: 'limit_reached',
      });
    return opts.insert(tx);
  });
}
