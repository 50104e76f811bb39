import type { AnyRouter } from '@trpc/server';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express, { type Express } from 'express';
import { createOpenApiExpressMiddleware } from 'trpc-to-openapi';
import { compileTrustProxy } from '../core/client-ip';
import type { AppDeps } from '../deps';
import { createExpressContext } from '../routers/context';
import { buildRouteTable } from '../routers/route-table';
import { docsRouter } from './docs';
import { acmeChallengeRoute, acmeChallengeRouter } from './handlers/acme-challenge';
import { browserPageRoute, browserPageRouter } from './handlers/browser-page';
import { chatUploadRoute, chatUploadRouter } from './handlers/chat-upload';
import { mediamtxHookRoutes, mediamtxHooksRouter } from './handlers/mediamtx-hooks';
import { roomScreenRoute, roomScreenRouter } from './handlers/room-screen';
import { sftpTransferRouter, sftpTransferRoutes } from './handlers/sftp-transfer';
import { staticUploadsRoute, staticUploadsRouter } from './handlers/static-uploads';
import { streamPlaybackRouter, streamPlaybackRoutes } from './handlers/stream-playback';
import { streamThumbnailRouter, streamThumbnailRoutes } from './handlers/stream-thumbnail';
import { vodTransferRouter, vodTransferRoutes } from './handlers/vod-transfer';
import { webProxyHandler } from './handlers/web-proxy';
import { authenticate, rejectFailedAuth } from './middleware/authenticate';
import { correlation } from './middleware/correlation';
import { contractErrorBodies, expressErrorHandler, rememberError } from './middleware/error-body';
import { rateLimit } from './middleware/rate-limit';
import { securityHeaders } from './middleware/security-headers';
import { buildOpenApiDocument } from './openapi-document';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A request with no body at all (POST /auth/logout, POST /api/keys/1/revoke) has no content type
 * to check: treat it as an empty JSON object instead of answering 415.
 */
const emptyBodyIsJson: express.RequestHandler = (req, _res, next) => {
  const length = req.headers['content-length'];
  const noBody = (length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined;
  if (BODY_METHODS.has(req.method) && !req.headers['content-type'] && noBody) {
    req.headers['content-type'] = 'application/json';
    req.body = {};
  }
  next();
};

export type RestAppOptions = {
  deps: AppDeps;
  router: AnyRouter;
  /** Set while draining: responses ask clients to close keep-alive connections. */
  isDraining?: () => boolean;
};

/**
 * The express application: contract headers and correlation id first, then authentication and
 * rate limits, then /trpc, the docs, non-RPC handlers, and last the REST paths of the routers.
 */
export function createRestApp({ deps, router, isDraining = () => false }: RestAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', compileTrustProxy(deps.env.TRUST_PROXY));
  const createContext = createExpressContext(deps);
  const routes = buildRouteTable(router, [
    roomScreenRoute,
    chatUploadRoute,
    staticUploadsRoute,
    acmeChallengeRoute,
    ...sftpTransferRoutes,
    browserPageRoute,

    ...vodTransferRoutes,
    ...mediamtxHookRoutes,
    ...streamPlaybackRoutes,
    ...streamThumbnailRoutes,
  ]);

  app.use(securityHeaders(deps.build.sourceHash));
  app.use(correlation(deps.log));
  app.use((_req, res, next) => {
    if (isDraining()) res.setHeader('Connection', 'close');
    next();
  });
  // The web proxy authenticates and limits its own requests (handlers/web-proxy.ts says why).
  app.use(webProxyHandler(deps));
  app.use(authenticate(deps));
  app.use(rateLimit(deps.rateLimiter, routes, deps.log));
  app.use(rejectFailedAuth);

  app.use(
    '/trpc',
    createExpressMiddleware({
      router,
      createContext,
      maxBodySize: deps.env.MAX_BODY_BYTES,
      onError: ({ error, ctx }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          deps.log.error(
            { err: error.cause ?? error, correlation_id: ctx?.correlationId },
            'unhandled error',
          );
        }
      },
    }),
  );

  app.use(docsRouter(() => buildOpenApiDocument(router, deps.build.version)));

  // Everything below answers in the contract's error shape.
  app.use(contractErrorBodies);
  // Non-RPC handlers go before the OpenAPI middleware, which never calls next().
  app.use(roomScreenRouter(deps));
  app.use(chatUploadRouter(deps));
  app.use(staticUploadsRouter(deps));
  app.use(acmeChallengeRouter(deps));
  app.use(sftpTransferRouter(deps));
  app.use(browserPageRouter(deps));

  app.use(vodTransferRouter(deps));
  app.use(mediamtxHooksRouter(deps));
  app.use(streamPlaybackRouter(deps));
  app.use(streamThumbnailRouter(deps));
  app.use(express.json({ limit: deps.env.MAX_BODY_BYTES, type: ['application/json', 'application/*+json'] }));
  app.use(emptyBodyIsJson);
  app.use(
    createOpenApiExpressMiddleware({
      router,
      createContext,
      maxBodySize: deps.env.MAX_BODY_BYTES,
      onError: ({ error, req }) => {
        const res = (req as unknown as { res: express.Response }).res;
        rememberError(res, error);
      },
      responseMeta: undefined,
    } as Parameters<typeof createOpenApiExpressMiddleware>[0]),
  );
  app.use(expressErrorHandler);
  return app;
}
