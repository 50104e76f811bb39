import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; one logger per process, children per request or socket. */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  destination?: DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'portal', pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets never reach the log even when a whole request object is logged by mistake.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-api-key"]',
        '*.password',
        '*.token',
        '*.api_key',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
