import type { z } from 'zod';
import type { RealtimeSocket } from '../types';
import type { PortalAuth, PortalUser } from './auth';
import type { PortalServerMessage } from './protocol';

// How /ws/portal dispatches client frames: one handler per `type`, each with its zod schema and
// whether it needs an authenticated user. Features add theirs with `hub.on(type, handler)`.

export type PortalSocket = RealtimeSocket<PortalAuth>;

export type PortalHandlerContext = {
  socket: PortalSocket;
  /** Null only for handlers with `requiresUser: false`, before first-message auth. */
  user: PortalUser | null;
  send(message: PortalServerMessage | Record<string, unknown>): boolean;
};

export type PortalHandler<S extends z.ZodType = z.ZodType> = {
  schema: S;
  /** Refused with "Authentication required" until the socket is authenticated. */
  requiresUser: boolean;
  handle(ctx: PortalHandlerContext, message: z.infer<S>): void | Promise<void>;
};

/** Keeps the schema and the handler's message type tied together. */
export const definePortalHandler = <S extends z.ZodType>(handler: PortalHandler<S>): PortalHandler<S> =>
  handler;
