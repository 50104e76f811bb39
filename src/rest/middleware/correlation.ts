import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../../core/log';
import { redactKeys } from '../../services/streams/keys';

/**
 * Gives every request a correlation id (header, log line, error body) before anything can fail,
 * and writes one structured log line per request when the response finishes.
 */
export function correlation(log: Logger): RequestHandler {
  return (req, res, next) => {
    const correlationId = randomUUID();
    const started = process.hrtime.bigint();
    res.locals.correlationId = correlationId;
    res.locals.log = log.child({ correlation_id: correlationId });
    res.setHeader('X-Correlation-Id', correlationId);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const line = {
        correlation_id: correlationId,
        method: req.method,
        // WHIP and thumbnail URLs may carry a stream's publish key.
        path: redactKeys(req.path),
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
        ip: req.ip,
      };
      if (res.statusCode >= 500) log.error(line, 'request');
      else log.info(line, 'request');
    });
    next();
  };
}
