import { type Request, type Response, Router } from 'express';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import type { AuthState, UserActor } from '../../services/auth/actor';
import { keyAllows } from '../../services/auth/api-keys';
import {
  CHAT_IMAGE_MAX_BYTES,
  CHAT_IMAGE_TOO_LARGE,
  saveChatImage,
} from '../../services/uploads/chat-images';
import { STATE } from '../../services/users/policy';
import { sendError } from '../middleware/error-body';
import { MultipartError, readMultipartFile } from '../multipart';

// POST /api/chat/upload (API.md §8, seed 002): multipart field `image`, at most 5 MB, JPEG/PNG/
// GIF/WebP by magic bytes. Multipart, so not a tRPC procedure; the same rules as the chat
// procedures: a signed-in user, API keys need the `chat` scope, a timed-out user may not post.

export const chatUploadRoute = { method: 'POST', path: '/api/chat/upload', tier: 'AUTH' } as const;

/** Uploads per user per minute, on top of the AUTH tier: each one is up to 5 MB of disk. */
const UPLOADS_PER_MINUTE = 30;

const MULTIPART_ERRORS: Record<MultipartError['kind'], AppError> = {
  not_multipart: new AppError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be multipart/form-data'),
  too_large: new AppError('PAYLOAD_TOO_LARGE', CHAT_IMAGE_TOO_LARGE),
  missing: new AppError('BAD_REQUEST', 'image is required'),
  malformed: new AppError('BAD_REQUEST', 'Malformed multipart body'),
};

function checkActor(res: Response): UserActor {
  const actor = (res.locals.auth as AuthState).actor;
  if (actor?.kind !== 'user') throw new AppError('UNAUTHORIZED');
  if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, 'chat', true)) throw new AppError('FORBIDDEN');
  if (actor.state === STATE.TIMEOUT) {
    throw new AppError('FORBIDDEN', 'Your account is temporarily restricted', {
      ...(actor.stateReason && { reason: actor.stateReason }),
      ...(actor.stateExpiresAt && { expires_at: actor.stateExpiresAt.toISOString() }),
    });
  }
  return actor;
}

async function checkUploadRate(deps: AppDeps, res: Response, userId: number) {
  let result: Awaited<ReturnType<AppDeps['rateLimiter']['checkSliding']>>;
  try {
    result = await deps.rateLimiter.checkSliding('chat-upload', `user:${userId}`, UPLOADS_PER_MINUTE, 60_000);
  } catch (err) {
    // As for the tiers: an unreachable counter store serves rather than fails every upload.
    (res.locals.log ?? deps.log).warn({ err }, 'rate limiter unavailable');
    return;
  }
  if (!result.allowed) {
    throw new AppError('TOO_MANY_REQUESTS', undefined, { retry_after: result.retryAfterSeconds });
  }
}

/**
 * A refusal before the whole body arrived: the rest of an upload is not worth receiving, so the
 * connection closes after the answer (instead of draining megabytes for keep-alive), and what
 * still comes in until then is discarded unread.
 */
function refuse(req: Request, res: Response, err: unknown) {
  if (!req.complete) res.setHeader('Connection', 'close');
  sendError(res, err);
  req.resume();
}

export function chatUploadRouter(deps: AppDeps) {
  const router = Router();
  router.post('/api/chat/upload', async (req, res) => {
    try {
      const actor = checkActor(res);
      await checkUploadRate(deps, res, actor.userId);
      let data: Buffer;
      try {
        data = await readMultipartFile(req, { field: 'image', maxBytes: CHAT_IMAGE_MAX_BYTES });
      } catch (err) {
        if (err instanceof MultipartError) throw MULTIPART_ERRORS[err.kind];
        throw err;
      }
      const saved = await saveChatImage({ dataDir: deps.env.DATA_DIR, data });
      res.status(200).setHeader('Cache-Control', 'no-store').json(saved);
    } catch (err) {
      refuse(req, res, err);
    }
  });
  return router;
}
