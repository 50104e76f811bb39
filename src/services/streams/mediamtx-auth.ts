import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { AppError } from '../../core/errors';
import { users } from '../../db/schema';
import { resolveCredentials } from '../auth/resolve';
import { effectiveState, STATE } from '../users/policy';
import { canWatch } from './access';
import { keyKind, keyOfMediaPath } from './keys';
import { streamOfMediaPath } from './live-state';
import { isInternalCredential } from './mediamtx';
import { claimRtmpToken } from './rtmp-tokens';
import type { StreamDeps } from './types';

// POST /api/mediamtx/auth: MediaMTX's external HTTP authentication (authMethod: http). MediaMTX
// posts its own request format and lets the client in on any 2xx; we answer 200 to allow, 401
// for missing or wrong credentials and 403 for an action the credentials do not allow.
//   publish  `live/<live_ key>` (RTMPS, RTSPS, SRT, WHIP) or `live/<rtmp_ token>` (plain RTMP only)
//   read, playback  a public stream's path, or the owner's (a Portal token, session or API key as
//                   password or Bearer token)
//   api, metrics, pprof  Portal itself only
// Portal's own requests (user `portal`, see mediamtx.ts) are allowed whatever they ask: the
// playback proxy, WHIP proxy and thumbnailer checked the caller before opening them.

export const MEDIA_ACTIONS = ['publish', 'read', 'playback', 'api', 'metrics', 'pprof'] as const;

/** MediaMTX's request body (internal/auth): unknown fields of later versions are ignored. */
export const ZMediaAuthRequest = z.object({
  user: z.string().max(1024).default(''),
  password: z.string().max(4096).default(''),
  token: z.string().max(8192).default(''),
  ip: z.string().max(128).default(''),
  action: z.enum(MEDIA_ACTIONS),
  path: z.string().max(1024).default(''),
  protocol: z.string().max(32).default(''),
  id: z.string().max(64).nullish(),
  query: z.string().max(4096).default(''),
});

export type MediaAuthRequest = z.infer<typeof ZMediaAuthRequest>;

const denied = (message: string) => new AppError('UNAUTHORIZED', message);
const forbidden = (message: string) => new AppError('FORBIDDEN', message);

async function ownerIsBanned(deps: Pick<StreamDeps, 'db'>, userId: number) {
  const [owner] = await deps.db
    .select({ state: users.state, expiresAt: users.stateExpiresAt })
    .from(users)
    .where(eq(users.id, userId));
  return !owner || effectiveState(owner.state, owner.expiresAt) === STATE.BANNED;
}

/** The Portal user behind a MediaMTX credential (Bearer token, or the password field), if any. */
async function portalUserOf(deps: Pick<StreamDeps, 'db' | 'secretKey'>, req: MediaAuthRequest) {
  const bearer = req.token || req.password;
  if (!bearer) return null;
  try {
    const auth = await resolveCredentials(deps.db, deps.secretKey, { bearer, ip: req.ip || 'mediamtx' });
    return auth.actor?.kind === 'user' ? auth.actor.userId : null;
  } catch {
    return null;
  }
}

async function authorizePublish(deps: StreamDeps, req: MediaAuthRequest) {
  const key = keyOfMediaPath(req.path);
  const kind = key ? keyKind(key) : undefined;
  if (kind === 'publish') {
    const found = await streamOfMediaPath(deps, req.path);
    if (!found) throw denied('Invalid stream key');
    if (await ownerIsBanned(deps, found.stream.userId)) throw forbidden('Your account has been banned');
    return found.stream.id;
  }
  if (kind === 'rtmp_token') {
    if (req.protocol !== 'rtmp') throw forbidden('RTMP tokens are for plain RTMP publishing only');
    const claim = await claimRtmpToken(deps, key!);
    if (!claim.ok) throw denied(`Invalid RTMP token (${claim.reason})`);
    if (await ownerIsBanned(deps, claim.stream.userId)) throw forbidden('Your account has been banned');
    return claim.stream.id;
  }
  throw denied('Invalid stream key');
}

async function authorizeRead(deps: StreamDeps, req: MediaAuthRequest) {
  const found = await streamOfMediaPath(deps, req.path);
  if (!found) throw denied('Stream not found');
  if (canWatch(found.stream, await portalUserOf(deps, req))) return found.stream.id;
  if (!req.token && !req.password) throw denied('Authentication required');
  throw forbidden('This stream is private');
}

/** Allows (returns the stream id, or null for Portal's own requests) or throws 401/403. */
export async function authorizeMediaRequest(deps: StreamDeps, req: MediaAuthRequest): Promise<number | null> {
  if (isInternalCredential(deps.secretKey, req.user, req.password)) return null;
  switch (req.action) {
    case 'publish':
      return authorizePublish(deps, req);
    case 'read':
    case 'playback':
      return authorizeRead(deps, req);
    default:
      throw forbidden('Only Portal may use the media server API');
  }
}
