import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { OpenAPIObject } from 'trpc-to-openapi';
import { useHtmlPageHeaders } from './middleware/security-headers';

/**
 * /openapi.json and the API reference page at /docs (assets served locally: works offline). The
 * document is built on first request: building it costs every server start a noticeable moment.
 */
export function docsRouter(build: () => OpenAPIObject): Router {
  const r = express.Router();
  let json: string | undefined;
  r.get('/openapi.json', (_req, res) => {
    json ??= JSON.stringify(build());
    res.type('application/json').send(json);
  });
  r.use(
    '/docs',
    (_req: Request, res: Response, next: NextFunction) => {
      useHtmlPageHeaders(res);
      next();
    },
    swaggerUi.serveFiles(undefined, { swaggerOptions: { url: '/openapi.json' } }),
    swaggerUi.setup(undefined, {
      customSiteTitle: 'Portal API reference',
      swaggerOptions: { url: '/openapi.json' },
    }),
  );
  return r;
}
