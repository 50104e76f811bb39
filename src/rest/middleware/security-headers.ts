import type { RequestHandler, Response } from 'express';

// Exact values of API.md §0 for every response.
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'X-XSS-Protection': '0',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  'Referrer-Policy': 'strict-origin-when-cross-origin',
  'Permissions-Policy':
    'geolocation=(), microphone=(), camera=(), payment=(), usb=(), magnetometer=(), accelerometer=()',
  'X-Permitted-Cross-Domain-Policies': 'none',
};

/**
 * HTML pages (/docs, /browser, viewers) need their own scripts and styles: 'self' only, never an
 * inline script. Styles may be inline because the API reference page sets style attributes.
 */
export const HTML_PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; " +
  "frame-ancestors 'none'";

export function securityHeaders(sourceHash: string): RequestHandler {
  return (_req, res, next) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    res.setHeader('X-Source-Hash', sourceHash);
    next();
  };
}

/** The page override of API.md §0; `microphone` for pages that carry voice. */
export function useHtmlPageHeaders(res: Response, opts: { microphone?: boolean } = {}) {
  res.setHeader('Content-Security-Policy', HTML_PAGE_CSP);
  if (opts.microphone) {
    res.setHeader(
      'Permissions-Policy',
      'geolocation=(), microphone=(self), camera=(), payment=(), usb=(), magnetometer=(), accelerometer=()',
    );
  }
}
