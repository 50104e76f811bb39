import { and, eq, notExists, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { streamOfflineHolds, streams } from '../../db/schema';
import { LIVE } from './types';

// Holds keep an ended stream at `is_live` 2 (encoding) while work of its session remains, e.g. VOD
// chunks not yet offloaded. They live in the database, so a restarted node resumes its work with
// the stream still at 2 and releases the hold when done. The stream goes to 0 when its last hold
// is released; never while it is live again (a new session) in the meantime.

/** Holds `streamId` at 2 for `holder` (idempotent). A stream already back at 0 returns to 2. */
export async function holdStreamOffline(
  deps: { db: Db },
  hold: { streamId: number; holder: string; sessionId?: string | null },
) {
  await deps.db
    .insert(streamOfflineHolds)
    .values({ streamId: hold.streamId, holder: hold.holder, sessionId: hold.sessionId ?? null })
    .onConflictDoNothing();
  await deps.db
    .update(streams)
    .set({ isLive: LIVE.ENCODING })
    .where(and(eq(streams.id, hold.streamId), eq(streams.isLive, LIVE.OFFLINE)));
}

/** Releases `holder`'s hold; the stream goes to 0 if it was the last one. Returns the new is_live. */
export async function releaseStreamOffline(deps: { db: Db }, hold: { streamId: number; holder: string }) {
  await deps.db
    .delete(streamOfflineHolds)
    .where(and(eq(streamOfflineHolds.streamId, hold.streamId), eq(streamOfflineHolds.holder, hold.holder)));
  return finishIfUnheld(deps.db, hold.streamId);
}

/** 2 → 0 once nothing holds the stream; returns its is_live afterwards (null: no such stream). */
export async function finishIfUnheld(db: Db, streamId: number): Promise<number | null> {
  await db
    .update(streams)
    .set({ isLive: LIVE.OFFLINE })
    .where(
      and(
        eq(streams.id, streamId),
        eq(streams.isLive, LIVE.ENCODING),
        notExists(
          db
            .select({ one: sql`1` })
            .from(streamOfflineHolds)
            .where(eq(streamOfflineHolds.streamId, streamId)),
        ),
      ),
    );
  const [row] = await db.select({ isLive: streams.isLive }).from(streams).where(eq(streams.id, streamId));
  return row?.isLive ?? null;
}

/** Holds of a stream (for status pages and tests). */
export async function listHolds(db: Db, streamId: number) {
  return db.select().from(streamOfflineHolds).where(eq(streamOfflineHolds.streamId, streamId));
}
