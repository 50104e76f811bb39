import { pipeline } from 'node:stream/promises';
import express, { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { AppError, describeZodIssue } from '../../core/errors';
import type { AppDeps } from '../../deps';
import type { UserActor } from '../../services/auth/actor';
import { deleteVodFile, downloadVodFile, zipVodFiles } from '../../services/vod/files';
import { downloadVodPath, uploadVodFile } from '../../services/vod/manager';
import { sendError } from '../middleware/error-body';
import { checkActor, disposition, handleUpload } from './sftp-transfer';

// The VOD storage's bodies that are not JSON RPC (API.md §7, seed 002 "VOD Storage" and "SFTP
// VOD Storage"), thin handlers over the vod services:
//   GET    /api/vod/files/{path}   one .mkv, streamed (Range: one byte range → 206)
//   DELETE /api/vod/files/{path}   one .mkv (here because its path holds slashes)
//   POST   /api/vod/download-zip   {files}: ≤ 500 .mkv paths → a zip streamed from SFTP
//   GET    /api/vod/sftp/download?path=  any file of the VOD directory, streamed
//   POST   /api/vod/sftp/upload    multipart `path` (directory) then `file`, streamed
// API keys need the `vod` scope (`vod:read` for downloads and the zip, which change nothing).

export const vodTransferRoutes = [
  { method: 'GET', path: '/api/vod/files/{path+}', tier: 'AUTH' },
  { method: 'DELETE', path: '/api/vod/files/{path+}', tier: 'AUTH' },
  { method: 'POST', path: '/api/vod/download-zip', tier: 'AUTH' },
  { method: 'GET', path: '/api/vod/sftp/download', tier: 'AUTH' },
  { method: 'POST', path: '/api/vod/sftp/upload', tier: 'AUTH' },
] as const;

const ZZipInput = z.object({ files: z.array(z.string().max(4096)) });

const depsOf = (deps: AppDeps, actor: UserActor) => ({
  db: deps.database.db,
  box: deps.secretBox,
  userId: actor.userId,
});

/** Express 5 hands a `*path` wildcard over as its decoded segments. */
const wildcardPath = (req: Request) => {
  const raw = req.params.path as unknown;
  return Array.isArray(raw) ? raw.join('/') : String(raw ?? '');
};

const queryPath = (req: Request) => {
  const path = typeof req.query.path === 'string' ? req.query.path : '';
  if (path.trim() === '') throw new AppError('BAD_REQUEST', 'path is required');
  return path;
};

function sendStreamHeaders(res: Response, opts: { type: string; length: number; name: string }) {
  res.setHeader('Content-Type', opts.type);
  res.setHeader('Content-Length', String(opts.length));
  res.setHeader('Content-Disposition', disposition(opts.name));
  res.setHeader('Cache-Control', 'no-store');
}

export function vodTransferRouter(deps: AppDeps) {
  const router = Router();

  router.get('/api/vod/files/*path', async (req, res) => {
    try {
      const actor = checkActor(res, false, 'vod');
      const range = typeof req.headers.range === 'string' ? req.headers.range : undefined;
      await downloadVodFile({ ...depsOf(deps, actor), path: wildcardPath(req), range }, async (file) => {
        res.status(file.range ? 206 : 200);
        res.setHeader('Accept-Ranges', 'bytes');
        const length = file.range ? file.range.end - file.range.start + 1 : file.size;
        if (file.range)
          res.setHeader('Content-Range', `bytes ${file.range.start}-${file.range.end}/${file.size}`);
        sendStreamHeaders(res, { type: 'video/x-matroska', length, name: file.name });
        await pipeline(file.stream, res);
      });
    } catch (err) {
      sendError(res, err);
    }
  });

  router.delete('/api/vod/files/*path', async (req, res) => {
    try {
      const actor = checkActor(res, true, 'vod');
      res.json(await deleteVodFile({ ...depsOf(deps, actor), path: wildcardPath(req) }));
    } catch (err) {
      sendError(res, err);
    }
  });

  // The JSON body parser runs for this route only: the other handlers here stream their bodies.
  const json = express.json({
    limit: deps.env.MAX_BODY_BYTES,
    type: ['application/json', 'application/*+json'],
  });
  router.post('/api/vod/download-zip', json, async (req, res) => {
    try {
      const actor = checkActor(res, false, 'vod');
      if (!req.is(['application/json', 'application/*+json'])) throw new AppError('UNSUPPORTED_MEDIA_TYPE');
      const parsed = ZZipInput.safeParse(req.body);
      if (!parsed.success) throw new AppError('BAD_REQUEST', describeZodIssue(parsed.error.issues[0]!));
      await zipVodFiles({ ...depsOf(deps, actor), files: parsed.data.files }, async (zip) => {
        const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
        res.status(200);
        res.setHeader('Content-Type', 'application/zip');
        res.setHeader('Content-Disposition', disposition(`vods-${stamp}.zip`));
        res.setHeader('Cache-Control', 'no-store');
        await pipeline(zip, res);
      });
    } catch (err) {
      sendError(res, err);
    }
  });

  router.get('/api/vod/sftp/download', async (req, res) => {
    try {
      const actor = checkActor(res, false, 'vod');
      await downloadVodPath({ ...depsOf(deps, actor), path: queryPath(req) }, async (file) => {
        res.status(200);
        sendStreamHeaders(res, { type: 'application/octet-stream', length: file.size, name: file.name });
        await pipeline(file.stream, res);
      });
    } catch (err) {
      sendError(res, err);
    }
  });

  router.post('/api/vod/sftp/upload', (req, res) =>
    handleUpload(req, res, {
      check: () => checkActor(res, true, 'vod'),
      maxBytes: deps.env.SFTP_UPLOAD_MAX_BYTES,
      upload: (actor, file) => uploadVodFile({ ...depsOf(deps, actor), ...file }),
    }),
  );

  return router;
}
