import type { users } from '../../db/schema';
import type { AuditActor } from '../audit/audit';
import { LEVEL } from '../users/policy';

/** How a user's request was authenticated. */
export type AuthVia = 'session' | 'jwt' | 'api_key' | 'cli';

export type UserActor = {
  kind: 'user';
  userId: number;
  username: string;
  level: number;
  state: number;
  stateReason: string | null;
  stateExpiresAt: Date | null;
  /** Service access scopes of the user (`access:*`, ...). */
  scopes: string;
  via: AuthVia;
  /** The session that authenticated the request (cookie, Bearer or JWT). */
  sessionId: string | null;
  /** Scopes of the API key that authenticated the request; null when no key was used. */
  keyScopes: string | null;
};

export type BotActor = {
  kind: 'bot';
  botId: number;
  name: string;
  rateLimitPerHour: number;
  level: typeof LEVEL.USER;
};

/** The admin CLI's built-in owner. */
export type SystemActor = { kind: 'system'; level: typeof LEVEL.OWNER; username: 'system' };

export type Actor = UserActor | BotActor | SystemActor;

export const SYSTEM_ACTOR: SystemActor = { kind: 'system', level: LEVEL.OWNER, username: 'system' };

export const auditActorOf = (actor: UserActor | SystemActor): AuditActor =>
  actor.kind === 'system'
    ? { userId: null, label: 'system' }
    : { userId: actor.userId, label: actor.username };

/**
 * Who is calling. Without a validated credential the request is anonymous and limited per client
 * IP; with an API key it is limited per key hash.
 */
export type AuthState = {
  actor: Actor | null;
  /** Rate-limit subject: `ip:<addr>`, or `key:<hash>` once an API key authenticated. */
  rateSubject: string;
  /** The user row read together with the credential in this request (saves a second query). */
  userRow?: typeof users.$inferSelect;
};
