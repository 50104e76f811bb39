import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { ZodError, type z } from 'zod';

// One table maps every application error code to its tRPC code, HTTP status and WebSocket close
// code; every transport formats errors through `describeError` so the body is the same everywhere.
export const ERROR_TABLE = {
  BAD_REQUEST: { trpc: 'BAD_REQUEST', status: 400, message: 'Invalid request' },
  UNAUTHORIZED: { trpc: 'UNAUTHORIZED', status: 401, message: 'Authentication required' },
  FORBIDDEN: { trpc: 'FORBIDDEN', status: 403, message: 'Access denied' },
  NOT_FOUND: { trpc: 'NOT_FOUND', status: 404, message: 'Not found' },
  METHOD_NOT_SUPPORTED: { trpc: 'METHOD_NOT_SUPPORTED', status: 405, message: 'Method not allowed' },
  CONFLICT: { trpc: 'CONFLICT', status: 409, message: 'Entity already exists' },
  PAYLOAD_TOO_LARGE: { trpc: 'PAYLOAD_TOO_LARGE', status: 413, message: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: {
    trpc: 'UNSUPPORTED_MEDIA_TYPE',
    status: 415,
    message: 'Content-Type must be application/json',
  },
  TOO_MANY_REQUESTS: { trpc: 'TOO_MANY_REQUESTS', status: 429, message: 'Too many requests' },
  INTERNAL: { trpc: 'INTERNAL_SERVER_ERROR', status: 500, message: 'Internal server error' },
  BAD_GATEWAY: { trpc: 'BAD_GATEWAY', status: 502, message: 'The upstream server did not answer properly' },
  SERVICE_UNAVAILABLE: { trpc: 'SERVICE_UNAVAILABLE', status: 503, message: 'Service unavailable' },
  GATEWAY_TIMEOUT: {
    trpc: 'GATEWAY_TIMEOUT',
    status: 504,
    message: 'The upstream server did not answer in time',
  },
} as const satisfies Record<string, { trpc: TRPC_ERROR_CODE_KEY; status: number; message: string }>;

export type AppErrorCode = keyof typeof ERROR_TABLE;

/** Structured fields of seed 001 (and any later contract extras) that ride along with `error`. */
export type ErrorExtra = {
  reason?: string;
  expires_at?: string;
  retry_after?: number;
  [key: string]: unknown;
};

/** The contract's error body, minus the correlation id that the transport adds. */
export type ErrorBody = { error: string; status: number } & ErrorExtra;

/** WebSocket close code for an error status: application codes live in 4000–4999. */
export const wsCloseCodeFor = (status: number) => 4000 + Math.min(Math.max(status, 0), 999);

export class AppError extends TRPCError {
  readonly appCode: AppErrorCode;
  readonly status: number;
  readonly extra: ErrorExtra;

  constructor(code: AppErrorCode, message?: string, extra: ErrorExtra = {}, cause?: unknown) {
    const entry = ERROR_TABLE[code];
    super({ code: entry.trpc, message: message ?? entry.message, cause });
    this.name = 'AppError';
    this.appCode = code;
    this.status = entry.status;
    this.extra = extra;
  }
}

const byTrpcCode = new Map<string, AppErrorCode>(
  Object.entries(ERROR_TABLE).map(([code, entry]) => [entry.trpc, code as AppErrorCode]),
);

const fieldName = (path: PropertyKey[]) =>
  path.length === 0 ? 'request' : path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.');

const isDefaultZodMessage = (message: string) =>
  /^(Invalid|Too (small|big)|Unrecognized key|Expected)/.test(message);

/** A user-friendly sentence for the first invalid field (seed 001). */
export function describeZodIssue(issue: z.core.$ZodIssue): string {
  const field = fieldName(issue.path);
  if (!isDefaultZodMessage(issue.message)) {
    // Custom schema messages are written as whole sentences or as a predicate for the field.
    return issue.message.startsWith(field) || /^[A-Z]/.test(issue.message)
      ? issue.message
      : `${field} ${issue.message}`;
  }
  switch (issue.code) {
    case 'invalid_type': {
      // Finished zod 4 issues drop `input`; the default message still names what was received.
      const missing =
        'input' in issue ? issue.input === undefined : /received undefined$/.test(issue.message);
      if (missing) return `${field} is required`;
      return `${field} must be ${issue.expected === 'int' ? 'an integer' : /^[aeiou]/.test(issue.expected) ? `an ${issue.expected}` : `a ${issue.expected}`}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') {
        return min <= 1 ? `${field} is required` : `${field} must be at least ${min} characters`;
      }
      if (issue.origin === 'array' || issue.origin === 'set')
        return `${field} must have at least ${min} items`;
      return `${field} must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `${field} must be at most ${max} characters`;
      if (issue.origin === 'array' || issue.origin === 'set')
        return `${field} must have at most ${max} items`;
      return `${field} must be at most ${max}`;
    }
    case 'invalid_format':
      return issue.format === 'regex'
        ? `${field} contains invalid characters`
        : `${field} must be a valid ${issue.format}`;
    case 'invalid_value':
      return `${field} must be one of ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `${issue.keys[0]} is not an allowed field`;
    case 'not_multiple_of':
      return `${field} must be a multiple of ${String(issue.divisor)}`;
    default:
      return `${field} is invalid`;
  }
}

function findZodError(err: unknown): ZodError | undefined {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 4; depth++) {
    if (cur instanceof ZodError) return cur;
    if (cur instanceof Error && cur.name === 'ZodError' && Array.isArray((cur as ZodError).issues)) {
      return cur as ZodError;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export type DescribedError = { body: ErrorBody; appCode: AppErrorCode; internal: boolean };

/**
 * Turns anything thrown into the contract's error body. Internal details never leave here:
 * only AppError messages and validation sentences are shown; everything else gets the table text.
 */
export function describeError(err: unknown): DescribedError {
  if (err instanceof AppError) {
    return {
      body: { error: err.message, status: err.status, ...err.extra },
      appCode: err.appCode,
      // Our own faults only: an upstream that failed (502) or a resource at capacity (503) is a
      // condition the message explains, not a bug worth a stack trace.
      internal: err.status === 500,
    };
  }
  if (err instanceof TRPCError && err.cause instanceof AppError) return describeError(err.cause);
  // Invalid input (tRPC's BAD_REQUEST, or a frame a hub validated): a zod failure deeper inside a
  // service is a bug and stays a 500.
  const zod = err instanceof TRPCError && err.code !== 'BAD_REQUEST' ? undefined : findZodError(err);
  if (zod?.issues[0]) {
    return {
      body: { error: describeZodIssue(zod.issues[0]), status: 400 },
      appCode: 'BAD_REQUEST',
      internal: false,
    };
  }
  if (err instanceof TRPCError) {
    if (err.code === 'PARSE_ERROR') {
      return {
        body: { error: 'Malformed JSON in request body', status: 400 },
        appCode: 'BAD_REQUEST',
        internal: false,
      };
    }
    const appCode = byTrpcCode.get(err.code) ?? 'INTERNAL';
    const entry = ERROR_TABLE[appCode];
    return { body: { error: entry.message, status: entry.status }, appCode, internal: entry.status >= 500 };
  }
  return { body: { error: ERROR_TABLE.INTERNAL.message, status: 500 }, appCode: 'INTERNAL', internal: true };
}

/** The AppError for a bare HTTP status that a library answered with. */
export function appErrorForStatus(status: number): AppError {
  const code = (Object.keys(ERROR_TABLE) as AppErrorCode[]).find((c) => ERROR_TABLE[c].status === status);
  return new AppError(code ?? (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST'));
}
