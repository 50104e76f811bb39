import { and, eq, exists, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { streamBans, streams } from '../../db/schema';

// Stream bans apply to the stream's chat channel (API.md §7). The chat services ask these two
// questions; they live here so the chat code needs no knowledge of streams beyond them.

/** Whether `userId` is banned from the stream that owns channel `channelId`. */
export async function isBannedFromStreamChannel(db: Db, channelId: number, userId: number): Promise<boolean> {
  const [row] = await db
    .select({ one: sql`1` })
    .from(streamBans)
    .innerJoin(streams, eq(streams.id, streamBans.streamId))
    .where(and(eq(streams.chatChannelId, channelId), eq(streamBans.userId, userId)))
    .limit(1);
  return row !== undefined;
}

/** SQL: the channel `channelIdColumn` is a stream channel `userId` is banned from (for searches). */
export const bannedFromStreamChannel = (db: Db, channelIdColumn: unknown, userId: number) =>
  exists(
    db
      .select({ one: sql`1` })
      .from(streamBans)
      .innerJoin(streams, eq(streams.id, streamBans.streamId))
      .where(and(sql`${streams.chatChannelId} = ${channelIdColumn}`, eq(streamBans.userId, userId))),
  );
