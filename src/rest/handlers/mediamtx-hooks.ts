import express, { type Request, Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import { markStreamNotReady, markStreamReady, streamOfMediaPath } from '../../services/streams/live-state';
import { checkHookCaller } from '../../services/streams/mediamtx';
import { authorizeMediaRequest, ZMediaAuthRequest } from '../../services/streams/mediamtx-auth';
import { dropViewer, markViewer, WEBRTC_VIEWER_TTL_MS } from '../../services/streams/viewers';
import { sendError } from '../middleware/error-body';
import { streamDepsOf } from './stream-caller';

// MediaMTX calls these (docs/mediamtx.md), not users; JSON in, JSON out, not tRPC procedures
// because the caller is a media server identified by a shared secret or loopback, not a user:
//   POST /api/mediamtx/auth        external HTTP authentication (authHTTPAddress), its own format
//   POST /api/mediamtx/ready       runOnReady   {path}: the stream goes live
//   POST /api/mediamtx/not-ready   runOnNotReady {path}: it ends (is_live 2, then 0)
//   POST /api/mediamtx/read        runOnRead    {path, reader_type, reader_id}: a viewer starts
//   POST /api/mediamtx/unread      runOnUnread  {path, reader_type, reader_id}: a viewer stops

const HOOKS = ['auth', 'ready', 'not-ready', 'read', 'unread'] as const;
export const mediamtxHookRoutes = HOOKS.map((hook) => ({
  method: 'POST',
  path: `/api/mediamtx/${hook}`,
  tier: 'MEDIA' as const,
}));

const ZPathHook = z.object({ path: z.string().trim().min(1).max(1024) });
const ZReaderHook = ZPathHook.extend({
  reader_type: z.string().max(64).default(''),
  reader_id: z.string().max(128).default(''),
});

/** Readers Portal counts as viewers: WebRTC sessions (HLS viewers are counted by the proxy). */
const VIEWER_READER = 'webRTCSession';

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw parsed.error;
  return parsed.data;
}

export function mediamtxHooksRouter(deps: AppDeps) {
  const router = Router();
  const json = express.json({ limit: 64 * 1024, type: () => true });
  const caller = (req: Request) => {
    const query = typeof req.query.secret === 'string' ? req.query.secret : undefined;
    checkHookCaller(deps.env, { ip: req.ip ?? '', header: req.get('x-portal-hook-secret'), query });
  };

  router.post('/api/mediamtx/auth', json, async (req, res) => {
    try {
      caller(req);
      const request = parse(ZMediaAuthRequest, req.body);
      const streamId = await authorizeMediaRequest(streamDepsOf(deps, res), request);
      res.status(200).json({ success: true, stream_id: streamId });
    } catch (err) {
      sendError(res, err);
    }
  });

  router.post('/api/mediamtx/ready', json, async (req, res) => {
    try {
      caller(req);
      const { path } = parse(ZPathHook, req.body);
      res.status(200).json(await markStreamReady(streamDepsOf(deps, res), path));
    } catch (err) {
      sendError(res, err);
    }
  });

  router.post('/api/mediamtx/not-ready', json, async (req, res) => {
    try {
      caller(req);
      const { path } = parse(ZPathHook, req.body);
      res.status(200).json(await markStreamNotReady(streamDepsOf(deps, res), path));
    } catch (err) {
      sendError(res, err);
    }
  });

  for (const hook of ['read', 'unread'] as const) {
    router.post(`/api/mediamtx/${hook}`, json, async (req, res) => {
      try {
        caller(req);
        const body = parse(ZReaderHook, req.body);
        const sdeps = streamDepsOf(deps, res);
        const found = await streamOfMediaPath(sdeps, body.path);
        if (!found) throw new AppError('NOT_FOUND', 'Stream not found');
        const counted = body.reader_type === VIEWER_READER && body.reader_id !== '';
        if (counted) {
          const viewer = `w:${body.reader_id}`;
          if (hook === 'read') await markViewer(sdeps, found.stream.id, viewer, WEBRTC_VIEWER_TTL_MS);
          else await dropViewer(sdeps, found.stream.id, viewer);
        }
        res.status(200).json({ success: true, counted });
      } catch (err) {
        sendError(res, err);
      }
    });
  }
  return router;
}
