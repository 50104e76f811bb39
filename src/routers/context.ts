import { randomUUID } from 'node:crypto';
import type { CreateExpressContextOptions } from '@trpc/server/adapters/express';
import type { AppDeps } from '../deps';

/** How the caller reached the router; rate limits and cookies only apply to `http`. */
export type Transport = 'http' | 'ws' | 'cli';

/** Permission levels of seed 003. */
export const LEVEL = { USER: 0, ADMIN: 2, OWNER: 3 } as const;

/** The authenticated principal; `system` is the admin CLI's built-in owner. */
export type Actor =
  | { kind: 'user'; userId: number; level: number }
  | { kind: 'bot'; botId: number; level: typeof LEVEL.USER }
  | { kind: 'system'; level: typeof LEVEL.OWNER };

/**
 * Who is calling. The identity layer fills `actor` from a validated credential; without one the
 * request is anonymous and limited per client IP.
 */
export type AuthState = {
  actor: Actor | null;
  /** Rate-limit subject: `ip:<addr>`, or `key:<hash>` once an API key authenticated. */
  rateSubject: string;
};

export type ContextInput = {
  deps: AppDeps;
  transport: Transport;
  ip: string;
  correlationId?: string;
  headers?: Record<string, string | string[] | undefined>;
  auth?: AuthState;
  /** Lets procedures add response headers (HTTP only). */
  setHeader?: (name: string, value: string) => void;
};

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
      setHeader: (name, value) => {
        if (!res.headersSent) res.setHeader(name, value);
      },
    });
