import { AppError } from './errors';

/** Whether a browser request's Origin (or Referer) names this host. */
export function isSameOrigin(source: string | undefined, host: string | undefined): boolean {
  if (!source || !host) return false;
  try {
    return new URL(source).host === host;
  } catch {
    return false;
  }
}

/**
 * Browsers send cookies with cross-site WebSocket upgrades too: a cookie-authenticated upgrade
 * counts only when its Origin is this host (clients without an Origin are not browsers).
 */
export function assertCookieUpgradeOrigin(headers: Record<string, string>) {
  if (headers.origin && !isSameOrigin(headers.origin, headers.host)) {
    throw new AppError('FORBIDDEN', 'Cross-site request refused');
  }
}
