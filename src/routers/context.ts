import { randomUUID } from 'node:crypto';
import type { CreateExpressContextOptions } from '@trpc/server/adapters/express';
import type { RateLimitResult } from '../core/rate-limit';
import type { AppDeps } from '../deps';
import type { Actor, AuthState } from '../services/auth/actor';
import { SESSION_COOKIE } from '../services/auth/sessions';

export type { Actor, AuthState };

/** How the caller reached the router; rate limits and cookies only apply to `http`. */
export type Transport = 'http' | 'ws' | 'cli';

export type ContextInput = {
  deps: AppDeps;
  transport: Transport;
  ip: string;
  correlationId?: string;
  headers?: Record<string, string | string[] | undefined>;
  auth?: AuthState;
  /** Lets procedures add response headers (HTTP only). */
  setHeader?: (name: string, value: string) => void;
  /** The session cookie (HTTP only); other transports ignore it. */
  sessionCookie?: SessionCookie;
  /** The tier result the HTTP rate limiter counted this request against (reported in X-RateLimit-*). */
  rateLimit?: RateLimitResult;
};

export type SessionCookie = { set(token: string, expiresAt: Date): void; clear(): void };

const noCookie: SessionCookie = { set: () => {}, clear: () => {} };

export type Context = ReturnType<typeof createContextInner>;

/** Transport-free context (tRPC's createContextInner): express, uWS, the CLI and tests all use it. */
export function createContextInner(input: ContextInput) {
  const correlationId = input.correlationId ?? randomUUID();
  return {
    deps: input.deps,
    db: input.deps.database.db,
    log: input.deps.log.child({ correlation_id: correlationId }),
    transport: input.transport,
    ip: input.ip,
    correlationId,
    headers: input.headers ?? {},
    auth: input.auth ?? { actor: null, rateSubject: `ip:${input.ip}` },
    setHeader: input.setHeader ?? (() => {}),
    sessionCookie: input.sessionCookie ?? noCookie,
    userAgent: headerText(input.headers?.['user-agent']),
    rateLimit: input.rateLimit,
  };
}

/** Express adapter: the correlation id and auth were settled by earlier express middleware. */
export const createExpressContext =
  (deps: AppDeps) =>
  ({ req, res }: CreateExpressContextOptions) =>
    createContextInner({
      deps,
      transport: 'http',
      ip: req.ip ?? req.socket.remoteAddress ?? 'unknown',
      correlationId: res.locals.correlationId as string | undefined,
      headers: req.headers,
      auth: res.locals.auth as AuthState | undefined,
      rateLimit: res.locals.rateLimit as RateLimitResult | undefined,
      setHeader: (name, value) => {
        if (!res.headersSent) res.setHeader(name, value);
      },
      sessionCookie: {
        // HttpOnly, SameSite=Lax, Secure when the request arrived over TLS (API.md §1).
        set: (token, expiresAt) =>
          res.cookie(SESSION_COOKIE, token, {
            httpOnly: true,
            sameSite: 'lax',
            secure: req.secure,
            path: '/',
            expires: expiresAt,
          }),
        clear: () =>
          res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/' }),
      },
    });

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
