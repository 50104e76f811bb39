import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { AppError, appErrorForStatus, type DescribedError, describeError } from '../../core/errors';
import type { Logger } from '../../core/log';

// One place turns any failure into the contract's body {error, status, correlation_id, ...}.

function logIfInternal(res: Response, described: DescribedError, err: unknown) {
  if (!described.internal) return;
  const log = (res.locals.log as Logger | undefined) ?? undefined;
  // Only 5xx carry a stack into the log (DESIGN.md rule 4); the client sees the table text.
  log?.error({ err, correlation_id: res.locals.correlationId }, 'unhandled error');
}

/** Remembers the error a library is about to answer with, so the body rewrite can describe it. */
export function rememberError(res: Response, err: unknown) {
  res.locals.error = err;
  logIfInternal(res, describeError(err), err);
}

/** A limit that knows when it resets says so in Retry-After as well as in the body. */
function setRetryAfter(res: Response, described: DescribedError) {
  const seconds = described.body.retry_after;
  if (typeof seconds === 'number' && !res.headersSent) res.setHeader('Retry-After', String(seconds));
}

export function sendError(res: Response, err: unknown) {
  const described = describeError(err);
  if (res.locals.error !== err) logIfInternal(res, described, err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.locals.errorBodyWritten = true;
  const body = { ...described.body, correlation_id: res.locals.correlationId as string };
  setRetryAfter(res, described);
  res.status(described.body.status).type('application/json').send(JSON.stringify(body));
}

/**
 * trpc-to-openapi writes its own error JSON; this rewrites any error response that did not come
 * from sendError into the contract's shape, using the error remembered by its onError hook.
 */
export const contractErrorBodies: RequestHandler = (_req, res, next) => {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.end = ((...args: unknown[]) => {
    if (res.statusCode < 400 || res.locals.errorBodyWritten || res.headersSent) return end(...args);
    res.locals.errorBodyWritten = true;
    const described = describeError(res.locals.error ?? appErrorForStatus(res.statusCode));
    const text = JSON.stringify({ ...described.body, correlation_id: res.locals.correlationId });
    res.statusCode = described.body.status;
    setRetryAfter(res, described);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    const cb = args.find((a) => typeof a === 'function');
    return cb ? end(text, 'utf8', cb) : end(text, 'utf8');
  }) as Response['end'];
  next();
};

/** body-parser and other express-level failures. */
export const expressErrorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
  const type = (err as { type?: string }).type;
  if (type === 'entity.parse.failed')
    return sendError(res, new AppError('BAD_REQUEST', 'Malformed JSON in request body'));
  if (type === 'entity.too.large') return sendError(res, new AppError('PAYLOAD_TOO_LARGE'));
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return sendError(res, new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported content encoding'));
  }
  sendError(res, err);
};
