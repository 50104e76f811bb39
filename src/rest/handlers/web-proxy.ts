import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { parse as parseCookies } from 'cookie';
import type { Request, RequestHandler, Response } from 'express';
import { createClientIpResolver, normalizeIp } from '../../core/client-ip';
import { AppError } from '../../core/errors';
import { rateLimitHeaders } from '../../core/rate-limit';
import type { AppDeps } from '../../deps';
import { buildRefusal, KeyCounter, writeRawRefusal } from '../../realtime/socket-common';
import { SESSION_COOKIE } from '../../services/auth/sessions';
import {
  authorizeProxyRequest,
  credentialOf,
  type ProxyAccess,
  type ProxyRequestInfo,
  splitProxyPath,
} from '../../services/web-proxy/access';
import { addressGuardOf } from '../../services/web-proxy/address-guard';
import { forwardHttp, type ProxyDeps } from '../../services/web-proxy/forward';
import { mintTicket, TICKET_MARK } from '../../services/web-proxy/ticket';
import { proxyWebSocket } from '../../services/web-proxy/websocket';
import { bearerFrom } from '../middleware/authenticate';
import { sendError } from '../middleware/error-body';

// ALL /proxy/{connection_id}/{path} (API.md §6, seed 002 "Embedded Browser"), HTTP and WebSocket
// upgrades. It runs before the general authentication and rate limits: a proxied page's own
// `?token=` or `Authorization` must not be read as Portal credentials, and a page load is dozens
// of requests, so the proxy has its own per-user budget (PROXY_RATE_LIMIT) and in-flight cap.

export function proxyDepsOf(deps: AppDeps): ProxyDeps {
  const { env } = deps;
  return {
    db: deps.database.db,
    box: deps.secretBox,
    guard: addressGuardOf(env),
    limits: {
      timeoutMs: env.PROXY_TIMEOUT_SECONDS * 1000,
      idleMs: env.PROXY_IDLE_TIMEOUT_SECONDS * 1000,
      maxRequestBytes: env.PROXY_MAX_REQUEST_BYTES,
      maxResponseBytes: env.PROXY_MAX_RESPONSE_BYTES,
    },
  };
}

function requestInfo(
  req: IncomingMessage,
  ip: string,
  connectionId: string,
  ticket?: string,
): ProxyRequestInfo {
  const cookie = req.headers.cookie ? parseCookies(req.headers.cookie)[SESSION_COOKIE] : undefined;
  const bearer = bearerFrom(req.headers.authorization);
  const origin = req.headers.origin ?? req.headers.referer;
  return {
    connectionId,
    ticket,
    // With a ticket, Authorization and cookies belong to the proxied page, not to Portal.
    bearer: ticket === undefined ? bearer : undefined,
    cookie: ticket === undefined && !bearer ? cookie : undefined,
    pageBearer: ticket === undefined ? undefined : bearer,
    method: req.method ?? 'GET',
    origin: Array.isArray(origin) ? origin[0] : origin,
    host: req.headers.host,
    ip,
  };
}

/** CORS preflights of the embedded browser's frames carry no credentials: answered here. */
function answerPreflight(req: Request, res: Response) {
  if (req.headers.origin === 'null') {
    res.setHeader('Access-Control-Allow-Origin', 'null');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Access-Control-Allow-Methods', String(req.headers['access-control-request-method']));
    const headers = req.headers['access-control-request-headers'];
    if (headers) res.setHeader('Access-Control-Allow-Headers', String(headers));
    res.setHeader('Access-Control-Max-Age', '600');
  }
  res.setHeader('Vary', 'Origin');
  res.status(204).end();
}

const isDocumentNavigation = (req: Request) =>
  req.method === 'GET' && ['document', 'iframe', 'frame'].includes(String(req.headers['sec-fetch-dest']));

export function webProxyHandler(deps: AppDeps): RequestHandler {
  const proxyDeps = proxyDepsOf(deps);
  const inFlight = new KeyCounter();
  const limiter = deps.rateLimiter;

  return async (req, res, next) => {
    const [rawPath = '', query] = (req.url ?? '').split(/\?(.*)/s, 2);
    const parts = rawPath.startsWith('/proxy/') ? splitProxyPath(rawPath) : null;
    if (!parts) return next();
    // The log line names the connection, never the ticket or the sites a user browses.
    req.url = `/proxy/${encodeURIComponent(parts.connectionId)}`;
    const ip = normalizeIp(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    let release: (() => void) | null = null;
    try {
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
        const check = await limiter.check('PUBLIC', `ip:${ip}`);
        if (!check.allowed) throw new AppError('TOO_MANY_REQUESTS');
        return answerPreflight(req, res);
      }
      let access: ProxyAccess;
      try {
        access = await authorizeProxyRequest(
          {
            db: deps.database.db,
            box: deps.secretBox,
            secretKey: deps.secretKey,
            credentialCache: deps.credentialCache,
          },
          requestInfo(req, ip, parts.connectionId, parts.ticket),
        );
      } catch (err) {
        // Failed attempts are throttled per address, like every unauthenticated request.
        const check = await limiter.check('PUBLIC', `ip:${ip}`);
        throw check.allowed ? err : new AppError('TOO_MANY_REQUESTS');
      }
      const userId = access.actor.userId;
      const rate = await limiter.checkCustom('proxy', `user:${userId}`, deps.env.PROXY_RATE_LIMIT, 60_000);
      for (const [name, value] of Object.entries(rateLimitHeaders(rate))) res.setHeader(name, value);
      if (!rate.allowed)
        throw new AppError('TOO_MANY_REQUESTS', undefined, { retry_after: rate.retryAfterSeconds });
      release = inFlight.tryAcquire(`user:${userId}`, deps.env.PROXY_MAX_CONCURRENT_PER_USER);
      if (!release) throw new AppError('TOO_MANY_REQUESTS', 'Too many proxied requests in flight');
      res.once('close', release);
      // A page opened on the session cookie alone could not load anything from its opaque origin:
      // move it to a ticket URL, which its links then inherit.
      if (access.via === 'cookie' && isDocumentNavigation(req)) {
        const credential = credentialOf(requestInfo(req, ip, parts.connectionId))!;
        const ticket = mintTicket(deps.secretBox, {
          connectionId: parts.connectionId,
          userId,
          credential,
          ip,
        });
        const search = query === undefined ? '' : `?${query}`;
        res.setHeader('Cache-Control', 'no-store');
        return res.redirect(302, `${access.prefix}/${TICKET_MARK}${ticket}${parts.rest || '/'}${search}`);
      }
      await forwardHttp(proxyDeps, {
        access,
        req,
        res,
        rest: parts.rest,
        search: query === undefined ? '' : `?${query}`,
      });
    } catch (err) {
      // The rest of a refused body is not worth receiving.
      if (!req.complete) res.setHeader('Connection', 'close');
      // The embedded browser's frame shows the refusal ("This address is not allowed") as text.
      if (!res.headersSent) {
        res.removeHeader('X-Frame-Options');
        res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'self'");
      }
      sendError(res, err);
      req.resume();
    }
  };
}

/**
 * Takes the node server's WebSocket upgrades under /proxy/ (returns false for every other path,
 * which the realtime transport serves). Same checks as HTTP; the per-user cap is the realtime
 * one, WS_MAX_SOCKETS_PER_USER, counted for proxied sockets on their own.
 */
export function webProxyUpgrade(deps: AppDeps) {
  const proxyDeps = proxyDepsOf(deps);
  const resolveIp = createClientIpResolver(deps.env.TRUST_PROXY);
  const sockets = new KeyCounter();
  const open = new Set<Duplex>();
  const log = deps.log.child({ component: 'web-proxy' });

  const claim = (req: IncomingMessage, client: Duplex, head: Buffer): boolean => {
    const [rawPath = '', query] = (req.url ?? '').split(/\?(.*)/s, 2);
    const parts = rawPath.startsWith('/proxy/') ? splitProxyPath(rawPath) : null;
    if (!parts) return false;
    client.on('error', () => client.destroy());
    open.add(client);
    client.once('close', () => open.delete(client));
    const forwarded = req.headers['x-forwarded-for'];
    const ip = resolveIp(
      req.socket.remoteAddress ?? '',
      Array.isArray(forwarded) ? forwarded.join(', ') : forwarded,
    );
    const context = { path: `/proxy/${parts.connectionId}`, ip };
    let release: (() => void) | null = null;
    (async () => {
      const info = requestInfo(req, ip, parts.connectionId, parts.ticket);
      const access = await authorizeProxyRequest(
        {
          db: deps.database.db,
          box: deps.secretBox,
          secretKey: deps.secretKey,
          credentialCache: deps.credentialCache,
        },
        // Browsers send cookies with cross-site upgrades too: the cookie counts only from Portal's pages.
        { ...info, method: info.cookie && info.origin ? 'UPGRADE' : 'GET' },
      );
      release = sockets.tryAcquire(`user:${access.actor.userId}`, deps.env.WS_MAX_SOCKETS_PER_USER);
      if (!release) throw new AppError('TOO_MANY_REQUESTS', 'Too many proxied WebSockets');
      client.once('close', release);
      await proxyWebSocket(proxyDeps, {
        access,
        req,
        client,
        head,
        rest: parts.rest,
        search: query === undefined ? '' : `?${query}`,
      });
    })().catch((err: unknown) => {
      (release as (() => void) | null)?.();
      writeRawRefusal(client, buildRefusal(err, log, context));
    });
    return true;
  };
  return Object.assign(claim, {
    /** Shutdown: upgraded sockets are not the HTTP server's to close, and would hold its drain. */
    closeAll() {
      for (const client of open) client.destroy();
    },
  });
}

export type WebProxyUpgrade = ReturnType<typeof webProxyUpgrade>;
