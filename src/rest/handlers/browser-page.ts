import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseCookies } from 'cookie';
import { Router } from 'express';
import { normalizeIp } from '../../core/client-ip';
import { AppError } from '../../core/errors';
import { fromPackageRoot } from '../../core/package-root';
import type { AppDeps } from '../../deps';
import type { AuthState } from '../../services/auth/actor';
import { keyAllows } from '../../services/auth/api-keys';
import { SESSION_COOKIE } from '../../services/auth/sessions';
import { credentialOf, loadWebConnection } from '../../services/web-proxy/access';
import { mintTicket, TICKET_MARK } from '../../services/web-proxy/ticket';
import { bearerFrom } from '../middleware/authenticate';
import { sendError } from '../middleware/error-body';
import { useHtmlPageHeaders } from '../middleware/security-headers';

// GET /browser?connection={id} (API.md §6, seed 002 "Embedded Browser"): the tabbed browser page
// for the caller's own web connections, and its static files under /browser/assets/ (no CDN).
// The page carries a fresh proxy ticket (services/web-proxy/ticket.ts) for its frames.

export const browserPageRoute = { method: 'GET', path: '/browser', tier: 'AUTH' } as const;

const ASSET_DIR = fromPackageRoot('src', 'rest', 'pages', 'browser');
const ASSETS: Record<string, string> = {
  'browser.js': 'text/javascript; charset=utf-8',
  'address.js': 'text/javascript; charset=utf-8',
  'proxy-runtime.js': 'text/javascript; charset=utf-8',
  'browser.css': 'text/css; charset=utf-8',
};

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function page(data: Record<string, string>, title: string, version: string): string {
  const attrs = Object.entries(data)
    .map(([k, v]) => `data-${k}="${escapeHtml(v)}"`)
    .join(' ');
  const v = encodeURIComponent(version);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} – Portal browser</title>
<link rel="stylesheet" href="/browser/assets/browser.css?v=${v}">
<script type="module" src="/browser/assets/browser.js?v=${v}"></script>
</head>
<body ${attrs}>
<header>
<div id="tabs" role="tablist" aria-label="Tabs"></div>
<button type="button" id="new-tab" title="New tab (Ctrl+T)">+</button>
</header>
<form id="nav" autocomplete="off">
<button type="button" id="back" title="Back (Alt+Left)">◀</button>
<button type="button" id="forward" title="Forward (Alt+Right)">▶</button>
<button type="button" id="reload" title="Reload (Ctrl+R)">⟳</button>
<input id="address" name="address" aria-label="Address" spellcheck="false" placeholder="Address, host name or path (Ctrl+L)">
<button type="submit" id="go">Go</button>
<button type="button" id="clear-cookies" title="Forget the cookies sites set through this connection">Clear cookies</button>
</form>
<div id="status" role="status" hidden></div>
<main id="frames"></main>
</body>
</html>
`;
}

export function browserPageRouter(deps: AppDeps) {
  const router = Router();
  const assets = new Map(
    Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(join(ASSET_DIR, name)) }]),
  );

  router.get('/browser/assets/:file', (req, res) => {
    const asset = assets.get(String(req.params.file));
    if (!asset) return sendError(res, new AppError('NOT_FOUND'));
    res.setHeader('Content-Type', asset.type);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.end(asset.body);
  });

  router.get('/browser', async (req, res) => {
    try {
      const actor = (res.locals.auth as AuthState).actor;
      if (actor?.kind !== 'user') throw new AppError('UNAUTHORIZED');
      if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, 'connections', false))
        throw new AppError('FORBIDDEN');
      const id = typeof req.query.connection === 'string' ? req.query.connection.trim() : '';
      if (id === '' || id.length > 64) throw new AppError('BAD_REQUEST', 'connection is required');
      const connection = await loadWebConnection(
        { db: deps.database.db, box: deps.secretBox },
        actor.userId,
        id,
      );
      const queryToken = typeof req.query.token === 'string' ? req.query.token : undefined;
      const bearer = bearerFrom(req.get('authorization')) ?? queryToken;
      const cookie = req.headers.cookie ? parseCookies(req.headers.cookie)[SESSION_COOKIE] : undefined;
      const credential = credentialOf({ bearer, cookie });
      if (!credential) throw new AppError('UNAUTHORIZED');
      const ip = normalizeIp(req.ip ?? req.socket.remoteAddress ?? 'unknown');
      const ticket = mintTicket(deps.secretBox, { connectionId: id, userId: actor.userId, credential, ip });
      const { target } = connection;
      useHtmlPageHeaders(res);
      res.setHeader('Cache-Control', 'no-store');
      res.type('html').send(
        page(
          {
            connection: connection.id,
            mode: target.mode,
            proxy: `/proxy/${encodeURIComponent(connection.id)}/${TICKET_MARK}${ticket}`,
            origin: target.origin.origin,
            home: target.home.href,
          },
          connection.name,
          deps.build.sourceHash,
        ),
      );
    } catch (err) {
      sendError(res, err);
    }
  });

  return router;
}
