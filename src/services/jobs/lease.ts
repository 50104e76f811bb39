import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { and, eq, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { jobLeases } from '../../db/schema';

// One node at a time for cluster-wide scheduled jobs (retention, certificate renewal): a lease row
// per job, taken with one upsert that succeeds only when the row is free, expired or already ours,
// all on the database's clock. The holder renews it while working; a node that dies simply lets it
// lapse. Works the same on PGlite and PostgreSQL, and needs no pinned connection.

/** This process, as a lease holder. */
export const NODE_ID = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

const untilIn = (ttlMs: number) => sql`now() + ${ttlMs} * interval '1 millisecond'`;

/** Takes (or renews) the lease; false when another holder has it. */
export async function acquireLease(db: Db, name: string, ttlMs: number, holder = NODE_ID): Promise<boolean> {
  const rows = await db
    .insert(jobLeases)
    .values({ name, holder, leasedUntil: untilIn(ttlMs) })
    .onConflictDoUpdate({
      target: jobLeases.name,
      set: { holder, leasedUntil: untilIn(ttlMs) },
      setWhere: or(sql`${jobLeases.leasedUntil} <= now()`, eq(jobLeases.holder, holder)),
    })
    .returning({ name: jobLeases.name });
  return rows.length > 0;
}

export async function releaseLease(db: Db, name: string, holder = NODE_ID) {
  await db
    .update(jobLeases)
    .set({ leasedUntil: sql`now()` })
    .where(and(eq(jobLeases.name, name), eq(jobLeases.holder, holder)));
}

/**
 * Runs `work` while holding the lease, renewed every third of its TTL; `lost()` turns true if a
 * renewal fails, and the work should stop between steps. Resolves to null when the lease was held
 * by someone else (nothing ran).
 */
export async function withLease<T>(
  db: Db,
  name: string,
  ttlMs: number,
  work: (lost: () => boolean) => Promise<T>,
): Promise<{ value: T } | null> {
  if (!(await acquireLease(db, name, ttlMs))) return null;
  let lost = false;
  const timer = setInterval(
    () => {
      acquireLease(db, name, ttlMs).then(
        (held) => {
          if (!held) lost = true;
        },
        () => {
          lost = true;
        },
      );
    },
    Math.max(1000, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  try {
    return { value: await work(() => lost) };
  } finally {
    clearInterval(timer);
    await releaseLease(db, name).catch(() => {});
  }
}
