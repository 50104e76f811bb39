import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import { findChatImage } from '../../services/uploads/chat-images';
import { sendError } from '../middleware/error-body';

// GET/HEAD /static/uploads/chat/<name> (API.md §8): chat images to anyone holding the unguessable
// URL. The type is the one sniffed at upload (kept in the extension), never guessed by a browser
// (nosniff), and a sandboxing CSP keeps an image opened on its own from running anything.

export const staticUploadsRoute = {
  method: 'GET',
  path: '/static/uploads/chat/{name}',
  tier: 'PUBLIC',
} as const;

const IMAGE_CSP = "default-src 'none'; sandbox";

export function staticUploadsRouter(deps: AppDeps) {
  const router = Router();
  router.get('/static/uploads/chat/:name', async (req, res) => {
    try {
      const image = await findChatImage({ dataDir: deps.env.DATA_DIR, name: req.params.name });
      if (!image) throw new AppError('NOT_FOUND', 'Image not found');
      res.status(200);
      res.setHeader('Content-Type', image.contentType);
      res.setHeader('Content-Length', String(image.size));
      res.setHeader('X-Content-Type-Options', 'nosniff');
      // The name changes with every upload, so the bytes behind it never do.
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      res.setHeader('Content-Security-Policy', IMAGE_CSP);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await pipeline(createReadStream(image.path), res).catch((err) => {
        // A client that went away is not an error worth a log line; anything else cuts it short.
        if (!res.destroyed) deps.log.warn({ err, name: req.params.name }, 'chat image stream failed');
        res.destroy();
      });
    } catch (err) {
      sendError(res, err);
    }
  });
  return router;
}
