import { Router } from 'express';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import { ZId } from '../../routers/fields';
import {
  deleteThumbnail,
  THUMBNAIL_FIELD,
  thumbnailFor,
  uploadThumbnail,
} from '../../services/streams/thumbnails';
import { sendError } from '../middleware/error-body';
import { MultipartError, readMultipartFile } from '../multipart';
import { optionalStreamUser, param, streamDepsOf, streamOwnerActor } from './stream-caller';

// Thumbnails of seed 002, binary so not tRPC procedures:
//   POST   /api/streams/{id}/thumbnail      multipart field `thumbnail`, ≤ 2 MB, JPEG/PNG (owner)
//   DELETE /api/streams/{id}/thumbnail      back to the dynamic thumbnail (owner)
//   GET    /api/stream/{key}/thumbnail.jpg  the live frame (15 s cache), else the static one, else 404

export const streamThumbnailRoutes = [
  { method: 'POST', path: '/api/streams/{id}/thumbnail', tier: 'AUTH' },
  { method: 'DELETE', path: '/api/streams/{id}/thumbnail', tier: 'AUTH' },
  { method: 'GET', path: '/api/stream/{key}/thumbnail.jpg', tier: 'MEDIA' },
] as const;

const tooLarge = (max: number) =>
  new AppError('PAYLOAD_TOO_LARGE', `thumbnail must be at most ${Math.round(max / 1024 / 1024) || 1} MB`);

function multipartError(kind: MultipartError['kind'], max: number): AppError {
  if (kind === 'not_multipart')
    return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be multipart/form-data');
  if (kind === 'too_large') return tooLarge(max);
  if (kind === 'missing') return new AppError('BAD_REQUEST', 'thumbnail is required');
  return new AppError('BAD_REQUEST', 'Malformed multipart body');
}

function streamIdOf(raw: string) {
  const id = ZId.safeParse(raw);
  if (!id.success) throw new AppError('BAD_REQUEST', 'id must be a positive integer');
  return id.data;
}

export function streamThumbnailRouter(deps: AppDeps) {
  const router = Router();
  const max = deps.env.THUMBNAIL_MAX_BYTES;

  router.post('/api/streams/:id/thumbnail', async (req, res) => {
    try {
      const actor = streamOwnerActor(res);
      const id = streamIdOf(param(req, 'id'));
      let data: Buffer;
      try {
        data = await readMultipartFile(req, { field: THUMBNAIL_FIELD, maxBytes: max });
      } catch (err) {
        if (err instanceof MultipartError) throw multipartError(err.kind, max);
        throw err;
      }
      const saved = await uploadThumbnail(streamDepsOf(deps, res), actor, id, data);
      res.status(200).setHeader('Cache-Control', 'no-store').json(saved);
    } catch (err) {
      // The rest of a refused upload is not worth receiving.
      if (!req.complete) res.setHeader('Connection', 'close');
      sendError(res, err);
      req.resume();
    }
  });

  router.delete('/api/streams/:id/thumbnail', async (req, res) => {
    try {
      const actor = streamOwnerActor(res);
      const result = await deleteThumbnail(streamDepsOf(deps, res), actor, streamIdOf(param(req, 'id')));
      res.status(200).setHeader('Cache-Control', 'no-store').json(result);
    } catch (err) {
      sendError(res, err);
    }
  });

  router.get('/api/stream/:key/thumbnail.jpg', async (req, res) => {
    try {
      const user = optionalStreamUser(res);
      const image = await thumbnailFor(streamDepsOf(deps, res), param(req, 'key'), user?.userId ?? null);
      res
        .status(200)
        .type(image.contentType)
        .setHeader(
          'Cache-Control',
          `${image.isPublic ? 'public' : 'private'}, max-age=${image.maxAgeSeconds}`,
        )
        .send(image.data);
    } catch (err) {
      sendError(res, err);
    }
  });
  return router;
}
