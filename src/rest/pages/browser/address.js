// What the embedded browser's address bar makes of what the user typed (seed 002: full URLs,
// bare host names → https://, relative paths), and how a target URL maps to a /proxy/ URL.
// Plain ES module: the page imports it, and so do the tests.

const HOST_LIKE = /^(localhost|\[[0-9a-f:.]+\]|[^\s/?#:]+\.[^\s/?#:]+)(:\d{1,5})?([/?#]\S*)?$/i;
const SEARCH = 'https://duckduckgo.com/?q=';

/**
 * The absolute URL to open for `input`, or null when there is nothing to open.
 * `context`: { mode: 'browser' | 'backend', current: URL string of the page shown (or the home) }.
 */
export function resolveAddress(input, context) {
  const text = String(input ?? '').trim();
  if (text === '') return null;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      const url = new URL(text);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch {
      return null;
    }
  }
  if (/^(\/|\.\.?\/|\?|#)/.test(text)) return new URL(text, context.current).href;
  if (context.mode === 'browser') {
    if (HOST_LIKE.test(text)) return new URL(`https://${text}`).href;
    return SEARCH + encodeURIComponent(text);
  }
  return new URL(`/${text}`, context.current).href;
}

/**
 * The /proxy/ path that shows `target` (an absolute URL string), or null when the connection
 * cannot reach it (backend mode: another site). `proxy` is `/proxy/{id}/~t.<ticket>`.
 */
export function proxyUrlOf(target, { mode, proxy, origin }) {
  const url = new URL(target);
  if (mode === 'browser') return `${proxy}/${url.href}`;
  const backend = new URL(origin);
  if (url.protocol !== backend.protocol || url.host !== backend.host) return null;
  return `${proxy}${url.pathname}${url.search}${url.hash}`;
}
