import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { OpenAPIObject } from 'trpc-to-openapi';
import { useHtmlPageHeaders } from './middleware/security-headers';

/** /openapi.json and the API reference page at /docs (assets served locally: works offline). */
export function docsRouter(document: OpenAPIObject): Router {
  const r = express.Router();
  const json = JSON.stringify(document);
  r.get('/openapi.json', (_req, res) => {
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
