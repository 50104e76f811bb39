import { Router } from 'express';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import type { AuthState } from '../../routers/context';
import { ZId } from '../../routers/fields';
import { keyAllows } from '../../services/auth/api-keys';
import { roomScreenshot } from '../../services/rooms/browser';
import { sendError } from '../middleware/error-body';

// GET /chats/{id}/screen (API.md §5): a JPEG of the room browser's page as it is now. Binary, so
// not a tRPC procedure; the same rules as the rooms router (signed-in member, API keys need the
// `rooms` scope) and the AUTH rate tier (declared in `nonRpcRoutes`).

export const roomScreenRoute = { method: 'GET', path: '/chats/{id}/screen', tier: 'AUTH' } as const;

export function roomScreenRouter(deps: AppDeps) {
  const router = Router();
  router.get('/chats/:id/screen', async (req, res) => {
    try {
      const actor = (res.locals.auth as AuthState).actor;
      if (actor?.kind !== 'user') throw new AppError('UNAUTHORIZED');
      if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, 'rooms', false))
        throw new AppError('FORBIDDEN');
      const id = ZId.safeParse(req.params.id);
      if (!id.success) throw new AppError('BAD_REQUEST', 'id must be a positive integer');
      const jpeg = await roomScreenshot(
        {
          db: deps.database.db,
          bus: deps.bus,
          log: deps.log,
          browsers: deps.browsers,
          secretBox: deps.secretBox,
        },
        actor.userId,
        id.data,
      );
      res.status(200).type('image/jpeg').setHeader('Cache-Control', 'no-store').send(jpeg);
    } catch (err) {
      sendError(res, err);
    }
  });
  return router;
}
