import { and, eq } from 'drizzle-orm';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import { isSameOrigin } from '../../core/same-origin';
import type { Db } from '../../db/client';
import { userConnections } from '../../db/schema';
import type { UserActor } from '../auth/actor';
import { keyAllows } from '../auth/api-keys';
import type { CredentialCache } from '../auth/credential-cache';
import { resolveCredentials } from '../auth/resolve';
import { openConfig, type PlainConfig } from '../connections/config';
import { type ConnectionTypeName, isConnectionType } from '../connections/types';
import { isWebType, type WebTarget, webTargetOf } from './targets';
import { openTicket, TICKET_MARK, type TicketCredential } from './ticket';

// Who is asking, and for which of their web connections. A proxy request carries a ticket in its
// path (the embedded browser's frames), a Bearer token, or the session cookie; anything else is
// 401, and a connection that is not the caller's is 404 like everywhere in API.md §6.

export type ProxyAccessDeps = {
  db: Db;
  box: SecretBox;
  secretKey: Buffer;
  credentialCache?: CredentialCache | undefined;
};

export type ProxyRequestInfo = {
  connectionId: string;
  /** The sealed ticket of a `/proxy/{id}/~t.<ticket>/…` path. */
  ticket?: string | undefined;
  bearer?: string | undefined;
  cookie?: string | undefined;
  /** With a ticket: the request's Bearer token, which belongs to the page unless Portal knows it. */
  pageBearer?: string | undefined;
  method: string;
  /** Origin (or Referer) and Host, for the cookie's cross-site check. */
  origin?: string | undefined;
  host?: string | undefined;
  ip: string;
};

export type WebConnection = {
  id: string;
  userId: number;
  name: string;
  type: ConnectionTypeName;
  host: string;
  port: number;
  config: PlainConfig;
  target: WebTarget;
};

export type ProxyAccess = {
  actor: UserActor;
  connection: WebConnection;
  /** How the request authenticated. */
  via: 'ticket' | 'bearer' | 'cookie';
  /** The request's Authorization is the proxied page's own (never one Portal accepts). */
  pageAuthorization: boolean;
  /** The path prefix links of this response point under. */
  prefix: string;
};

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function loadWebConnection(
  deps: Pick<ProxyAccessDeps, 'db' | 'box'>,
  userId: number,
  id: string,
): Promise<WebConnection> {
  const [row] = await deps.db
    .select()
    .from(userConnections)
    .where(and(eq(userConnections.id, id), eq(userConnections.userId, userId)));
  if (!row || !isConnectionType(row.type)) throw new AppError('NOT_FOUND', 'Connection not found');
  if (!isWebType(row.type)) {
    throw new AppError('BAD_REQUEST', 'This connection does not open in the embedded browser');
  }
  const config = openConfig(deps.box, row.type, row.config);
  return {
    id: row.id,
    userId: row.userId,
    name: row.name,
    type: row.type,
    host: row.host,
    port: row.port,
    config,
    target: webTargetOf({ type: row.type, host: row.host, port: row.port, config }),
  };
}

async function actorFor(deps: ProxyAccessDeps, credential: TicketCredential, ip: string): Promise<UserActor> {
  const state = await resolveCredentials(
    deps.db,
    deps.secretKey,
    credential.k === 'bearer' ? { bearer: credential.t, ip } : { cookie: credential.t, ip },
    deps.credentialCache,
  );
  const actor = state.actor;
  if (!actor) throw new AppError('UNAUTHORIZED');
  if (actor.kind !== 'user') throw new AppError('FORBIDDEN');
  if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, 'connections', false))
    throw new AppError('FORBIDDEN');
  return actor;
}

/** The caller's credential as a ticket would carry it: Bearer first, then the session cookie. */
export function credentialOf(info: Pick<ProxyRequestInfo, 'bearer' | 'cookie'>): TicketCredential | null {
  if (info.bearer) return { k: 'bearer', t: info.bearer };
  if (info.cookie) return { k: 'cookie', t: info.cookie };
  return null;
}

export async function authorizeProxyRequest(
  deps: ProxyAccessDeps,
  info: ProxyRequestInfo,
): Promise<ProxyAccess> {
  const base = `/proxy/${encodeURIComponent(info.connectionId)}`;
  let actor: UserActor;
  let via: ProxyAccess['via'];
  let prefix = base;
  let pageAuthorization = false;
  if (info.ticket !== undefined) {
    const body = openTicket(deps.box, info.ticket, { connectionId: info.connectionId, ip: info.ip });
    actor = await actorFor(deps, { k: body.k, t: body.t }, info.ip);
    if (actor.userId !== body.u) throw new AppError('UNAUTHORIZED');
    via = 'ticket';
    prefix = `${base}/${TICKET_MARK}${info.ticket}`;
    // A Bearer token Portal accepts is a Portal credential, whoever sent it: it never goes upstream.
    pageAuthorization =
      info.pageBearer === undefined ||
      (await actorFor(deps, { k: 'bearer', t: info.pageBearer }, info.ip).then(
        () => false,
        () => true,
      ));
  } else {
    const credential = credentialOf(info);
    if (!credential) throw new AppError('UNAUTHORIZED');
    actor = await actorFor(deps, credential, info.ip);
    via = credential.k;
    // CSRF: a state-changing request on the cookie alone must come from Portal's own pages.
    if (via === 'cookie' && !SAFE_METHODS.has(info.method) && !isSameOrigin(info.origin, info.host))
      throw new AppError('FORBIDDEN', 'Cross-site request refused');
  }
  const connection = await loadWebConnection(deps, actor.userId, info.connectionId);
  return { actor, connection, via, prefix, pageAuthorization };
}

/**
 * Splits `/proxy/{id}/rest` (the raw path, query excluded) into the connection id, the ticket when
 * there is one, and the rest of the path (starting with `/`, or empty).
 */
export function splitProxyPath(path: string): { connectionId: string; ticket?: string; rest: string } | null {
  const match = /^\/proxy\/([^/]+)(\/.*)?$/.exec(path);
  if (!match) return null;
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
  const rest = match[2] ?? '';
  const ticket = rest.startsWith(`/${TICKET_MARK}`) ? /^\/~t\.([^/]*)(\/.*)?$/.exec(rest) : null;
  if (ticket) return { connectionId, ticket: ticket[1]!, rest: ticket[2] ?? '' };
  return { connectionId, rest };
}
