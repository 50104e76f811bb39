import { and, count, eq, isNotNull, isNull, lt, or } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { streamRtmpTokens } from '../../db/schema';
import { ownStream, streamById } from './access';
import { mediaPathOf, newRtmpToken, rtmpTokenHash } from './keys';
import { LIVE, type StreamActor, type StreamDeps, type StreamRow } from './types';
import type { PublicUrls } from './urls';

// Temporary single-use publish tokens for plain RTMP (seed 002 "Plain RTMP"): `rtmp_…`, valid for
// a first publish within RTMP_TOKEN_TTL_SECONDS (15 min). Used once; after its session drops, the
// same encoder may reconnect with it within RTMP_TOKEN_GRACE_SECONDS (30 s), then it is spent.
// The token doubles as the MediaMTX path (`live/rtmp_…`); Portal maps it back to the stream.

/** Unused, unexpired tokens one stream may have at a time. */
const MAX_PENDING_TOKENS = 10;

type TokenRow = typeof streamRtmpTokens.$inferSelect;

/** Expired unused tokens and spent ones whose grace has passed are of no use to anyone. */
async function pruneTokens(db: Db, streamId: number, graceMs: number) {
  const now = new Date();
  await db
    .delete(streamRtmpTokens)
    .where(
      and(
        eq(streamRtmpTokens.streamId, streamId),
        or(
          and(isNull(streamRtmpTokens.usedAt), lt(streamRtmpTokens.expiresAt, now)),
          and(
            isNotNull(streamRtmpTokens.releasedAt),
            lt(streamRtmpTokens.releasedAt, new Date(now.getTime() - graceMs)),
          ),
        ),
      ),
    );
}

/** POST /api/streams/{id}/rtmp-token (owner; the stream's rtmp_enabled and RTMP_PLAIN_ENABLED). */
export async function createRtmpToken(deps: StreamDeps, actor: StreamActor, id: number, urls: PublicUrls) {
  const stream = await ownStream(deps.db, actor.userId, id);
  if (!deps.env.RTMP_PLAIN_ENABLED)
    throw new AppError('FORBIDDEN', 'Plain RTMP is not enabled on this server (RTMP_PLAIN_ENABLED)');
  if (!stream.rtmpEnabled)
    throw new AppError('BAD_REQUEST', 'Enable RTMP on this stream first (rtmp_enabled: true)');
  await pruneTokens(deps.db, id, deps.env.RTMP_TOKEN_GRACE_SECONDS * 1000);
  const [pending] = await deps.db
    .select({ n: count() })
    .from(streamRtmpTokens)
    .where(and(eq(streamRtmpTokens.streamId, id), isNull(streamRtmpTokens.usedAt)));
  if ((pending?.n ?? 0) >= MAX_PENDING_TOKENS)
    throw new AppError('TOO_MANY_REQUESTS', `At most ${MAX_PENDING_TOKENS} unused RTMP tokens per stream`);
  const token = newRtmpToken();
  const ttl = deps.env.RTMP_TOKEN_TTL_SECONDS;
  const expiresAt = new Date(Date.now() + ttl * 1000);
  await deps.db
    .insert(streamRtmpTokens)
    .values({ streamId: id, tokenHash: rtmpTokenHash(deps.secretKey, token), expiresAt });
  return { token, expires_in: ttl, expires_at: expiresAt.toISOString(), rtmp_url: urls.rtmp };
}

export async function tokenByValue(db: Db, secretKey: Buffer, token: string): Promise<TokenRow | undefined> {
  const [row] = await db
    .select()
    .from(streamRtmpTokens)
    .where(eq(streamRtmpTokens.tokenHash, rtmpTokenHash(secretKey, token)));
  return row;
}

export type TokenClaim = { ok: true; stream: StreamRow } | { ok: false; reason: string };

/**
 * A publish with an RTMP token (MediaMTX auth): the first use within the TTL, or a reconnect within
 * the grace after its session dropped (or before MediaMTX reported the drop). Everything else is a
 * reuse and refused. Claims are compare-and-set, so two encoders racing get one yes.
 */
export async function claimRtmpToken(deps: StreamDeps, token: string): Promise<TokenClaim> {
  const row = await tokenByValue(deps.db, deps.secretKey, token);
  if (!row) return { ok: false, reason: 'unknown token' };
  const stream = await streamById(deps.db, row.streamId);
  if (!stream) return { ok: false, reason: 'unknown token' };
  if (!deps.env.RTMP_PLAIN_ENABLED || !stream.rtmpEnabled)
    return { ok: false, reason: 'plain RTMP disabled' };
  const now = new Date();
  if (row.usedAt === null) {
    if (now > row.expiresAt) return { ok: false, reason: 'expired token' };
    const [won] = await deps.db
      .update(streamRtmpTokens)
      .set({ usedAt: now })
      .where(and(eq(streamRtmpTokens.id, row.id), isNull(streamRtmpTokens.usedAt)))
      .returning({ id: streamRtmpTokens.id });
    if (won) return { ok: true, stream };
    return { ok: false, reason: 'reused token' };
  }
  if (row.releasedAt !== null) {
    const graceEnds = new Date(row.releasedAt.getTime() + deps.env.RTMP_TOKEN_GRACE_SECONDS * 1000);
    if (now > graceEnds) return { ok: false, reason: 'reused token' };
    const [won] = await deps.db
      .update(streamRtmpTokens)
      .set({ releasedAt: null })
      .where(and(eq(streamRtmpTokens.id, row.id), eq(streamRtmpTokens.releasedAt, row.releasedAt)))
      .returning({ id: streamRtmpTokens.id });
    return won ? { ok: true, stream } : { ok: false, reason: 'reused token' };
  }
  // Used and not released: the encoder reconnects before MediaMTX reported the old session gone.
  const liveHere =
    stream.isLive === LIVE.LIVE &&
    stream.livePath !== null &&
    deps.secretBox.decrypt(stream.livePath) === mediaPathOf(token);
  return liveHere ? { ok: true, stream } : { ok: false, reason: 'reused token' };
}

/** The session a token started went offline: the grace for a reconnect starts now. */
export async function releaseRtmpToken(db: Db, tokenId: number, at: Date) {
  await db
    .update(streamRtmpTokens)
    .set({ releasedAt: at })
    .where(and(eq(streamRtmpTokens.id, tokenId), isNotNull(streamRtmpTokens.usedAt)));
}
