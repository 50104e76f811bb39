import { pipeline } from 'node:stream/promises';
import { type Request, type Response, Router } from 'express';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import type { AuthState, UserActor } from '../../services/auth/actor';
import { keyAllows } from '../../services/auth/api-keys';
import { downloadFile, type SftpDeps, uploadFile } from '../../services/sftp/sftp';
import { STATE } from '../../services/users/policy';
import { sendError } from '../middleware/error-body';
import { MultipartError, readMultipartForm } from '../multipart';

// The SFTP browser's streamed transfers (API.md §6, seed 002 "SFTP Browser"), not JSON RPC:
//   GET  /api/sftp/{connection_id}/download?path=   the file as an attachment, streamed
//   POST /api/sftp/{connection_id}/upload           multipart: `path` (destination directory),
//                                                   then `file`; streamed to the remote host
// Same rules as the sftp router: the caller's own ssh connection (404 otherwise), API keys need the
// `sftp` scope (`sftp:read` is enough to download), a timed-out user may not upload.

export const sftpTransferRoutes = [
  { method: 'GET', path: '/api/sftp/{connection_id}/download', tier: 'AUTH' },
  { method: 'POST', path: '/api/sftp/{connection_id}/upload', tier: 'AUTH' },
] as const;

/** The signed-in user of a transfer; API keys need the router group's scope (`group:read` for reads). */
export function checkActor(res: Response, isMutation: boolean, group = 'sftp'): UserActor {
  const actor = (res.locals.auth as AuthState).actor;
  if (actor?.kind !== 'user') throw new AppError('UNAUTHORIZED');
  if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, group, isMutation))
    throw new AppError('FORBIDDEN');
  if (isMutation && actor.state === STATE.TIMEOUT)
    throw new AppError('FORBIDDEN', 'Your account is temporarily restricted');
  return actor;
}

const depsOf = (deps: AppDeps, actor: UserActor, req: Request): SftpDeps => ({
  db: deps.database.db,
  box: deps.secretBox,
  userId: actor.userId,
  connectionId: String(req.params.connection_id ?? ''),
});

/** `attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266). */
export const disposition = (name: string) =>
  `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;

const MULTIPART_ERRORS: Record<MultipartError['kind'], () => AppError> = {
  not_multipart: () => new AppError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be multipart/form-data'),
  too_large: () => new AppError('PAYLOAD_TOO_LARGE', 'File is too large'),
  missing: () => new AppError('BAD_REQUEST', 'file is required'),
  malformed: () => new AppError('BAD_REQUEST', 'Malformed multipart body'),
};

export function sftpTransferRouter(deps: AppDeps) {
  const router = Router();

  router.get('/api/sftp/:connection_id/download', async (req, res) => {
    try {
      const actor = checkActor(res, false);
      const path = typeof req.query.path === 'string' ? req.query.path : '';
      if (path.trim() === '') throw new AppError('BAD_REQUEST', 'path is required');
      await downloadFile(depsOf(deps, actor, req), path, async (file) => {
        res.status(200);
        res.setHeader('Content-Type', 'application/octet-stream');
        res.setHeader('Content-Length', String(file.size));
        res.setHeader('Content-Disposition', disposition(file.name));
        res.setHeader('Cache-Control', 'no-store');
        await pipeline(file.stream, res);
      });
    } catch (err) {
      // After the headers went out, a failure can only cut the response short (sendError does).
      sendError(res, err);
    }
  });

  router.post('/api/sftp/:connection_id/upload', (req, res) =>
    handleUpload(req, res, {
      check: () => checkActor(res, true),
      maxBytes: deps.env.SFTP_UPLOAD_MAX_BYTES,
      upload: (actor, file) => uploadFile(depsOf(deps, actor, req), file),
    }),
  );

  return router;
}

/**
 * A streamed multipart upload (`path`, the destination directory, before `file`), shared by the SFTP
 * browser and the VOD SFTP manager: `upload` receives the part as a stream and answers the JSON.
 */
export async function handleUpload<T>(
  req: Request,
  res: Response,
  opts: {
    check(): UserActor;
    maxBytes: number;
    upload(
      actor: UserActor,
      file: { dir: string; name: string; source: NodeJS.ReadableStream; maxBytes: number },
    ): Promise<T>;
  },
) {
  try {
    const actor = opts.check();
    const { maxBytes } = opts;
    let dir: string | undefined;
    let result: T | undefined;
    try {
      await readMultipartForm(req, {
        maxBodyBytes: maxBytes + 64 * 1024,
        onField(name, value) {
          if (name === 'path') dir = value;
        },
        async onFile(file) {
          if (file.field !== 'file' || result) {
            file.stream.resume();
            return;
          }
          if (dir === undefined || dir.trim() === '')
            throw new AppError('BAD_REQUEST', 'path is required (and must come before file)');
          result = await opts.upload(actor, {
            dir,
            name: file.filename ?? '',
            source: file.stream,
            maxBytes,
          });
        },
      });
    } catch (err) {
      if (err instanceof MultipartError) throw MULTIPART_ERRORS[err.kind]();
      throw err;
    }
    if (!result)
      throw new AppError('BAD_REQUEST', dir === undefined ? 'path is required' : 'file is required');
    res.status(200).setHeader('Cache-Control', 'no-store').json(result);
  } catch (err) {
    // The rest of a refused upload is not worth receiving.
    if (!req.complete) res.setHeader('Connection', 'close');
    sendError(res, err);
    req.resume();
  }
}
