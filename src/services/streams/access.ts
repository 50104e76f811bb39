import { eq } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { streams } from '../../db/schema';
import type { StreamRow } from './types';

// Who may see a stream (seed 002): a public stream is visible to everyone and watchable by anyone
// holding its playback URL; a private one only to its owner. Others' private streams are a 404, so
// their ids cannot be probed.

export const streamNotFound = () => new AppError('NOT_FOUND', 'Stream not found');

export const canWatch = (stream: Pick<StreamRow, 'isPublic' | 'userId'>, userId: number | null) =>
  stream.isPublic || stream.userId === userId;

export async function streamById(db: Db, id: number): Promise<StreamRow | undefined> {
  const [row] = await db.select().from(streams).where(eq(streams.id, id));
  return row;
}

/** The caller's own stream (owner-only operations), else 404. */
export async function ownStream(db: Db, userId: number, id: number, opts: { lock?: boolean } = {}) {
  const query = db.select().from(streams).where(eq(streams.id, id));
  const [row] = opts.lock ? await query.for('update') : await query;
  if (!row || row.userId !== userId) throw streamNotFound();
  return row;
}

/** A stream the caller may see, else 404. */
export async function visibleStream(db: Db, userId: number | null, id: number) {
  const row = await streamById(db, id);
  if (!row || !canWatch(row, userId)) throw streamNotFound();
  return row;
}
