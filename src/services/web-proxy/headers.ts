import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { CookieJar } from 'tough-cookie';
import type { ProxyAccess } from './access';
import { cookieHeaderFor } from './cookie-jar';
import type { UrlRewriter } from './url-rewriter';

// Which headers cross the proxy, each way. Upstream: never Portal's cookies (the jar's cookies for
// the target instead), never the Authorization that authenticated Portal (the connection's own
// credentials instead, when its config has them), no client address and no hop-by-hop headers.
// Downstream: nothing that would act on Portal's origin (cookies, HSTS, CSP, Clear-Site-Data) and
// every URL pointed back into the proxy.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Never sent upstream: Portal's own credentials, the client's address, Portal's internal headers. */
const NOT_FORWARDED = new Set([
  'host',
  'cookie',
  'authorization',
  'origin',
  'referer',
  'accept-encoding',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'x-api-key',
  // Node answered `100-continue` to the client already; the body goes up as it comes.
  'expect',
  // The frame's opaque origin makes every request look cross-site to the backend.
  'sec-fetch-site',
]);

const WEBSOCKET_HEADERS = new Set([
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/** The connection's own login for the backend, when its config has one. */
function connectionAuthorization(access: ProxyAccess): string | undefined {
  const { type, config } = access.connection;
  if (type === 'proxmox' && typeof config.token === 'string') return `PVEAPIToken=${config.token}`;
  if (type === 'proxmox') return undefined;
  if (typeof config.username === 'string' && typeof config.password === 'string') {
    return `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}`;
  }
  return undefined;
}

/** `Referer` as the backend would see it: the proxied page's own URL, when it came from one. */
function upstreamReferer(referer: string | undefined, access: ProxyAccess, host: string | undefined) {
  if (!referer || !host) return undefined;
  let url: URL;
  try {
    url = new URL(referer);
  } catch {
    return undefined;
  }
  if (url.host !== host || !url.pathname.startsWith(`${access.prefix}/`)) return undefined;
  const rest = url.pathname.slice(access.prefix.length);
  if (access.connection.target.mode === 'browser') return `${rest.slice(1)}${url.search}`;
  return `${access.connection.target.origin.origin}${rest}${url.search}`;
}

export function upstreamRequestHeaders(opts: {
  incoming: IncomingHttpHeaders;
  access: ProxyAccess;
  target: URL;
  jar: CookieJar;
  websocket?: boolean;
}): OutgoingHttpHeaders {
  const { incoming, access, target } = opts;
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || NOT_FORWARDED.has(name) || name.startsWith('x-portal-')) continue;
    if (HOP_BY_HOP.has(name)) continue;
    if (!opts.websocket && WEBSOCKET_HEADERS.has(name)) continue;
    out[name] = value;
  }
  out.host = target.host;
  const cookie = cookieHeaderFor(opts.jar, target);
  if (cookie) out.cookie = cookie;
  const own = connectionAuthorization(access);
  if (own) out.authorization = own;
  // With a ticket, Portal's credential is in the path: an Authorization header is the page's own.
  else if (access.via === 'ticket' && access.pageAuthorization && incoming.authorization)
    out.authorization = incoming.authorization;
  if (incoming.origin) out.origin = target.origin;
  const referer = upstreamReferer(incoming.referer, access, incoming.host);
  if (referer) out.referer = referer;
  if (opts.websocket) {
    out.connection = 'Upgrade';
    out.upgrade = 'websocket';
  } else {
    // Codings the proxy can decode for rewriting, and only those the client takes itself, since
    // other bodies pass through as the backend encoded them.
    const codings = String(incoming['accept-encoding'] ?? '')
      .split(',')
      .map((c) => c.trim().split(';')[0]!.toLowerCase())
      .filter((c) => c === 'gzip' || c === 'deflate' || c === 'br');
    if (codings.length > 0) out['accept-encoding'] = [...new Set(codings)].join(', ');
  }
  return out;
}

/** Response headers that must not reach the browser under Portal's origin. */
const DROPPED_RESPONSE = new Set([
  'set-cookie',
  'content-security-policy',
  'content-security-policy-report-only',
  'x-frame-options',
  'strict-transport-security',
  'public-key-pins',
  'public-key-pins-report-only',
  'clear-site-data',
  'alt-svc',
  'report-to',
  'reporting-endpoints',
  'nel',
  'expect-ct',
  'x-xss-protection',
  'permissions-policy',
  'feature-policy',
  'cross-origin-opener-policy',
  'cross-origin-embedder-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'x-content-type-options',
  'service-worker-allowed',
  'sourcemap',
  'x-sourcemap',
]);

/** The sandbox every relayed response runs in: an opaque origin, and Portal as the only host. */
export const PROXY_CSP =
  'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads allow-pointer-lock ' +
  "allow-presentation; default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'; " +
  "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; " +
  "worker-src 'self' blob:; base-uri 'self'; form-action 'self'";

/** Cached by the browser only: `/proxy/` responses are per user whatever the backend says. */
function privateCacheControl(value: string): string {
  const kept = value
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d && !/^(public|s-maxage\s*=.*|proxy-revalidate)$/i.test(d));
  return kept.some((d) => /^(private|no-store)$/i.test(d))
    ? kept.join(', ')
    : ['private', ...kept].join(', ');
}

function rewriteLink(value: string, rewriter: UrlRewriter): string {
  return value.replace(/<([^>]*)>/g, (_m, url: string) => `<${rewriter.url(url)}>`);
}

export function relayedResponseHeaders(opts: {
  upstream: IncomingHttpHeaders;
  rewriter: UrlRewriter;
  /** The body is rewritten (HTML/CSS): its length and encoding change. */
  rewritten: boolean;
  /** The request's Origin: frames of the embedded browser send `null`. */
  requestOrigin?: string | undefined;
}): OutgoingHttpHeaders {
  const { rewriter } = opts;
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(opts.upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || DROPPED_RESPONSE.has(name)) continue;
    if (name.startsWith('access-control-')) continue;
    if (opts.rewritten && (name === 'content-length' || name === 'content-encoding' || name === 'etag'))
      continue;
    out[name] = value;
  }
  for (const name of ['location', 'content-location'] as const) {
    const value = opts.upstream[name];
    if (typeof value === 'string') out[name] = rewriter.url(value);
  }
  const refresh = opts.upstream.refresh;
  if (typeof refresh === 'string') {
    out.refresh = refresh.replace(
      /(url\s*=\s*)(\S+)/i,
      (_m, lead: string, url: string) => lead + rewriter.url(url),
    );
  }
  const link = opts.upstream.link;
  if (link !== undefined)
    out.link = (Array.isArray(link) ? link : [link]).map((l) => rewriteLink(l, rewriter));
  const cache = opts.upstream['cache-control'];
  if (typeof cache === 'string') out['cache-control'] = privateCacheControl(cache);
  out['content-security-policy'] = PROXY_CSP;
  out['referrer-policy'] = 'no-referrer';
  // The embedded browser's frames have an opaque origin: their fetches, fonts and module scripts
  // are CORS requests to Portal and need this to read what the proxy answers.
  if (opts.requestOrigin === 'null') {
    out['access-control-allow-origin'] = 'null';
    out['access-control-allow-credentials'] = 'true';
    out['access-control-expose-headers'] = Object.keys(out).join(', ');
    out.vary = out.vary ? `${out.vary}, Origin` : 'Origin';
  }
  return out;
}
