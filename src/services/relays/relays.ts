import { and, asc, count, eq, sql } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { streamRelays } from '../../db/schema';
import { inTransaction } from '../admin/hierarchy';
import { createHostResolver } from '../rooms/browser/network-guard';
import { ownStream } from '../streams/access';
import { MAX_RELAYS_PER_STREAM } from './platforms';
import type { CreateRelayInput, RelayView, UpdateRelayInput } from './schemas';

// Relay destinations of a stream (seed 002 "Stream Relays"), owner only: others' streams and
// relays are 404. The ingest URL and the destination's key are sealed at rest; reads show
// `has_stream_key`. Starting and stopping the ffmpeg processes is runtime.ts's; a change here
// calls `changed(streamId)` so a live stream picks it up at once.

export type RelayRow = typeof streamRelays.$inferSelect;

export type RelayDeps = {
  db: Db;
  secretBox: SecretBox;
  userId: number;
  /** RELAY_ALLOW_PRIVATE: destinations on loopback or private networks are accepted. */
  allowPrivate: boolean;
  /** Tells the relay runtime that a stream's relays changed. */
  changed(streamId: number): void;
};

export const relayNotFound = () => new AppError('NOT_FOUND', 'Relay not found');
export const NOT_ALLOWED_DESTINATION = 'rtmp_url must not point to a loopback or private address';

export function relayViewOf(box: SecretBox, row: RelayRow): RelayView {
  return {
    id: row.id,
    stream_id: row.streamId,
    platform: row.platform as RelayView['platform'],
    name: row.name,
    rtmp_url: box.decrypt(row.rtmpUrl),
    has_stream_key: row.streamKey !== null,
    enabled: row.enabled,
    status: row.status as RelayView['status'],
    last_error: row.lastError,
    status_at: row.statusAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

const resolveHost = createHostResolver();

/**
 * Whether a destination may be used: not loopback, private or link-local (a relay must not become
 * a way to push bytes into Portal's own network), unless the operator allows it.
 */
export async function checkDestination(url: string, allowPrivate: boolean, strict: boolean) {
  if (allowPrivate) return;
  const host = new URL(url.replace(/^rtmps?:/i, 'http:')).hostname;
  const result = await resolveHost(host);
  if (!result.ok && (result.reason === 'private' || strict))
    throw new AppError(
      'BAD_REQUEST',
      result.reason === 'private' ? NOT_ALLOWED_DESTINATION : 'rtmp_url host could not be resolved',
    );
}

export async function listRelays(deps: RelayDeps & { streamId: number }) {
  await ownStream(deps.db, deps.userId, deps.streamId);
  const rows = await deps.db
    .select()
    .from(streamRelays)
    .where(eq(streamRelays.streamId, deps.streamId))
    .orderBy(asc(streamRelays.id));
  return { relays: rows.map((r) => relayViewOf(deps.secretBox, r)) };
}

export async function createRelay(deps: RelayDeps & { streamId: number; input: CreateRelayInput }) {
  const { input } = deps;
  await checkDestination(input.rtmp_url, deps.allowPrivate, false);
  const row = await inTransaction(deps.db, async (tx) => {
    // The stream row is locked, so two concurrent creates cannot both pass the cap.
    await ownStream(tx, deps.userId, deps.streamId, { lock: true });
    const [n] = await tx
      .select({ n: count() })
      .from(streamRelays)
      .where(eq(streamRelays.streamId, deps.streamId));
    if ((n?.n ?? 0) >= MAX_RELAYS_PER_STREAM)
      throw new AppError('FORBIDDEN', `A stream can have at most ${MAX_RELAYS_PER_STREAM} relays`, {
        reason: 'limit_reached',
      });
    const [inserted] = await tx
      .insert(streamRelays)
      .values({
        streamId: deps.streamId,
        platform: input.platform,
        name: input.name,
        rtmpUrl: deps.secretBox.encrypt(input.rtmp_url),
        streamKey: deps.secretBox.encrypt(input.stream_key),
        enabled: input.enabled,
      })
      .returning();
    return inserted as RelayRow;
  });
  deps.changed(deps.streamId);
  return relayViewOf(deps.secretBox, row);
}

async function ownRelay(db: Db, userId: number, streamId: number, relayId: number) {
  await ownStream(db, userId, streamId);
  const [row] = await db
    .select()
    .from(streamRelays)
    .where(and(eq(streamRelays.id, relayId), eq(streamRelays.streamId, streamId)));
  if (!row) throw relayNotFound();
  return row;
}

export async function updateRelay(
  deps: RelayDeps & { streamId: number; relayId: number; input: UpdateRelayInput },
) {
  const { input } = deps;
  await ownRelay(deps.db, deps.userId, deps.streamId, deps.relayId);
  if (input.rtmp_url !== undefined) await checkDestination(input.rtmp_url, deps.allowPrivate, false);
  const [row] = await deps.db
    .update(streamRelays)
    .set({
      ...(input.name !== undefined && { name: input.name }),
      ...(input.rtmp_url !== undefined && { rtmpUrl: deps.secretBox.encrypt(input.rtmp_url) }),
      ...(input.stream_key !== undefined && { streamKey: deps.secretBox.encrypt(input.stream_key) }),
      ...(input.enabled !== undefined && { enabled: input.enabled }),
      updatedAt: sql`now()`,
    })
    .where(and(eq(streamRelays.id, deps.relayId), eq(streamRelays.streamId, deps.streamId)))
    .returning();
  if (!row) throw relayNotFound();
  deps.changed(deps.streamId);
  return relayViewOf(deps.secretBox, row);
}

export async function deleteRelay(deps: RelayDeps & { streamId: number; relayId: number }) {
  await ownRelay(deps.db, deps.userId, deps.streamId, deps.relayId);
  await deps.db
    .delete(streamRelays)
    .where(and(eq(streamRelays.id, deps.relayId), eq(streamRelays.streamId, deps.streamId)));
  deps.changed(deps.streamId);
  return { success: true as const };
}

/** Status of a relay as its process reports it (written by the node that runs it). */
export async function setRelayStatus(
  db: Db,
  relayId: number,
  status: { state: RelayView['status']; lastError?: string | null },
) {
  await db
    .update(streamRelays)
    .set({
      status: status.state,
      ...(status.lastError !== undefined && { lastError: status.lastError }),
      statusAt: sql`now()`,
    })
    .where(eq(streamRelays.id, relayId));
}
