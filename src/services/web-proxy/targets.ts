import { AppError } from '../../core/errors';
import {
  CONNECTION_TYPES,
  type ConnectionTypeName,
  isConnectionType,
  WEB_PANEL_SCHEMES,
} from '../connections/types';

// What a web connection proxies to, and how URLs map between the backend and /proxy/{id}/…:
// - browser mode (`http_proxy` with `config.browser_mode: true`): the path after the prefix is the
//   whole target URL (`/proxy/{id}/https://example.com/page?q`), any public site;
// - every other web connection (http, https, proxmox, web panels, http_proxy without browser mode):
//   the path is a path on the connection's own backend, which is the only site it reaches.

export type ProxyMode = 'browser' | 'backend';

export type WebTarget = {
  mode: ProxyMode;
  /** The backend's origin (backend mode); in browser mode the home page's. */
  origin: URL;
  /** Where the browser page opens first: an absolute URL. */
  home: URL;
  /** Check the backend's TLS certificate (always in browser mode). */
  verifyTls: boolean;
};

export const isWebType = (type: string): type is ConnectionTypeName =>
  isConnectionType(type) && CONNECTION_TYPES[type].plugin === 'http_proxy';

const HTTPS_PORTS = new Set([443, 8443, 9443]);

function backendScheme(
  type: ConnectionTypeName,
  port: number,
  config: Record<string, unknown>,
): 'http' | 'https' {
  if (type === 'http') return 'http';
  if (type === 'https' || type === 'proxmox') return 'https';
  if (type in WEB_PANEL_SCHEMES) return WEB_PANEL_SCHEMES[type as keyof typeof WEB_PANEL_SCHEMES];
  const home = typeof config.home_url === 'string' ? config.home_url : '';
  if (home.startsWith('http://')) return 'http';
  if (home.startsWith('https://')) return 'https';
  return HTTPS_PORTS.has(port) ? 'https' : 'http';
}

const hostForUrl = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

export function webTargetOf(conn: {
  type: string;
  host: string;
  port: number;
  config: Record<string, unknown>;
}): WebTarget {
  if (!isWebType(conn.type)) {
    throw new AppError('BAD_REQUEST', 'This connection does not open in the embedded browser');
  }
  const { config } = conn;
  const scheme = backendScheme(conn.type, conn.port, config);
  const origin = new URL(`${scheme}://${hostForUrl(conn.host)}:${conn.port}`);
  const path = typeof config.path === 'string' ? config.path : '/';
  const homeUrl = typeof config.home_url === 'string' ? config.home_url : undefined;
  if (conn.type === 'http_proxy' && config.browser_mode === true) {
    const home = homeUrl ? new URL(homeUrl) : new URL(path, origin);
    return { mode: 'browser', origin: new URL(home.origin), home, verifyTls: true };
  }
  return {
    mode: 'backend',
    origin,
    home: new URL(path, origin),
    // Self-signed panels are common at home: the connection's own setting decides (default on).
    verifyTls: config.verify_tls !== false,
  };
}

/**
 * The target URL of a request, from the part of the path after the prefix (starting with `/`,
 * as the client sent it, still percent-encoded) and its query string.
 */
export function targetUrlOf(target: WebTarget, rest: string, search: string): URL {
  if (target.mode === 'backend') {
    const url = new URL(target.origin);
    // Set, not resolved: `//other.host/x` stays a path on the backend.
    url.pathname = rest || '/';
    url.search = search;
    return url;
  }
  let text = rest.replace(/^\/+/, '');
  // A proxy in front may merge `//` into `/`; bare host names mean https (seed 002).
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && !/^(https?|wss?):/i.test(text))
    throw new AppError('BAD_REQUEST', 'Not a valid web address');
  const scheme = /^(https?|wss?):\/*/i.exec(text);
  text = scheme ? `${scheme[1]!.toLowerCase()}://${text.slice(scheme[0].length)}` : `https://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AppError('BAD_REQUEST', 'Not a valid web address');
  }
  if (url.protocol === 'ws:') url.protocol = 'http:';
  if (url.protocol === 'wss:') url.protocol = 'https:';
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError('BAD_REQUEST', 'Not a valid web address');
  if (url.username || url.password)
    throw new AppError('BAD_REQUEST', 'Addresses with credentials are not allowed');
  if (!url.hostname) throw new AppError('BAD_REQUEST', 'Not a valid web address');
  url.search = search;
  return url;
}

const WS_TO_HTTP: Record<string, string> = { 'ws:': 'http:', 'wss:': 'https:' };

/**
 * Where `absolute` is reached through the proxy, or null when this connection cannot reach it
 * (another site in backend mode, or not http/ws at all): then the link is left as it is.
 */
export function proxyPathOf(target: WebTarget, prefix: string, absolute: URL): string | null {
  const protocol = WS_TO_HTTP[absolute.protocol] ?? absolute.protocol;
  if (protocol !== 'http:' && protocol !== 'https:') return null;
  if (target.mode === 'browser') return `${prefix}/${absolute.href}`;
  const sameOrigin =
    protocol === target.origin.protocol &&
    absolute.hostname === target.origin.hostname &&
    (absolute.port || defaultPort(protocol)) === (target.origin.port || defaultPort(protocol));
  return sameOrigin ? `${prefix}${absolute.pathname}${absolute.search}${absolute.hash}` : null;
}

const defaultPort = (protocol: string) => (protocol === 'https:' ? '443' : '80');
