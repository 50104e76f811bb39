import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/core/errors';
import { extractPageMeta } from '../../src/services/link-preview/html-meta';
import * as previews from '../../src/services/link-preview/preview';
import { createLinkPreviewer } from '../../src/services/link-preview/preview';
import { createHostResolver, type HostResolver } from '../../src/services/rooms/browser/network-guard';
import { api } from '../helpers/identity';
import { ok, refused, roomKit } from '../helpers/rooms';
import { startTestServer, type TestServer } from '../helpers/server';

// GET /api/chat/link-preview (API.md §8): OpenGraph parsing, the SSRF guard, limits and the cache.

const NOT_ALLOWED = 'This address is not allowed';
const FAILED = 'Could not fetch a preview for this URL';

// ── a local site; it is on loopback, so only a test resolver lets the previewer reach it ──────
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
const hits: string[] = [];
let site: Server;
let port: number;

const html =
  (body: string, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(body);
  };
const redirect =
  (to: string, status = 302): Handler =>
  (_req, res) => {
    res.writeHead(status, { location: to });
    res.end();
  };

/** Test-only resolver: `*.test` names are "public" and point at the local site. */
const realGuard = createHostResolver();
const testResolver: HostResolver = async (host) =>
  host.endsWith('.test') ? { ok: true, address: '127.0.0.1', family: 4 } : realGuard(host);

const url = (host: string, path: string) => `http://${host}:${port}${path}`;

async function failure(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return { status: (err as AppError).status, message: (err as AppError).message };
}

let server: TestServer;
const kit = roomKit(() => server);

beforeAll(async () => {
  site = createServer((req, res) => {
    hits.push(`${req.headers.host}${req.url}`);
    const handler = routes.get((req.url ?? '').split('?')[0] ?? '');
    if (handler) handler(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  port = (site.address() as AddressInfo).port;
  server = await startTestServer();
});
afterAll(async () => {
  site?.closeAllConnections();
  await new Promise((resolve) => site?.close(resolve));
  await server?.close();
});

describe('extractPageMeta', () => {
  it('prefers OpenGraph and decodes entities', () => {
    const page = `<!doctype html><html><head>
      <title>Fallback title</title>
      <meta name="description" content="fallback description">
      <META content='Caf&eacute; &amp; &quot;bar&quot; &#8212; &#x1F600;' PROPERTY="og:title">
      <meta property=og:description content="Line one
         line two &hellip;">
      <meta property="og:image" content="/img/a.png?x=1&amp;y=2">
      <meta property="og:site_name" content="Example">
      <meta property="og:title" content="second title is ignored">
    </head><body></body></html>`;
    expect(extractPageMeta(page)).toEqual({
      title: 'Caf&eacute; & "bar" — 😀',
      description: 'Line one line two …',
      image: '/img/a.png?x=1&y=2',
      site_name: 'Example',
    });
  });

  it('falls back to <title> and meta description; ignores comments and scripts', () => {
    const page = `<head><!-- <meta property="og:title" content="commented"> -->
      <script>var s = '<meta property="og:title" content="scripted">';</script>
      <title> A  &lt;b&gt; title </title><meta name="Description" content="Plain description"></head>`;
    expect(extractPageMeta(page)).toEqual({
      title: 'A <b> title',
      description: 'Plain description',
      image: null,
      site_name: null,
    });
  });

  it('caps the fields and survives broken markup', () => {
    const long = 'x'.repeat(5000);
    const meta = extractPageMeta(
      `<meta property="og:title" content="${long}"><meta property="og:description" content="${long}">`,
    );
    expect(meta.title).toHaveLength(300);
    expect(meta.description).toHaveLength(1000);
    expect(extractPageMeta('<meta property="og:title" content="unterminated')).toEqual({
      title: null,
      description: null,
      image: null,
      site_name: null,
    });
    expect(extractPageMeta(`${'<script>'.repeat(50_000)}<title>t`).title).toBeNull();
  });
});

describe('link previewer', () => {
  it('fetches a page by name, connecting to the checked address with the name as Host', async () => {
    routes.set(
      '/article',
      html('<meta property="og:title" content="Article"><meta property="og:image" content="img.jpg">'),
    );
    const previewer = createLinkPreviewer({ resolveHost: testResolver });
    const got = await previewer.preview(url('news.test', '/article#comments'));
    expect(got).toEqual({
      url: url('news.test', '/article'),
      title: 'Article',
      description: null,
      image: url('news.test', '/img.jpg'),
      site_name: null,
    });
    expect(hits).toContain(`news.test:${port}/article`);
  });

  it('follows up to 3 redirects and resolves og:image against the final URL', async () => {
    routes.set('/r1', redirect('/r2'));
    routes.set('/r2', redirect(url('other.test', '/r3'), 301));
    routes.set('/r3', redirect('/dir/final', 307));
    routes.set('/dir/final', html('<title>Final</title><meta property="og:image" content="../pic.png">'));
    const previewer = createLinkPreviewer({ resolveHost: testResolver });
    const got = await previewer.preview(url('a.test', '/r1'));
    expect(got).toMatchObject({
      url: url('a.test', '/r1'),
      title: 'Final',
      image: url('other.test', '/pic.png'),
    });
    routes.set('/r0', redirect('/r1'));
    expect(await failure(previewer.preview(url('a.test', '/r0')))).toEqual({ status: 502, message: FAILED });
  });

  it('refuses a redirect from an allowed host to a private one', async () => {
    routes.set('/to-loopback', redirect(`http://127.0.0.1:${port}/article`));
    routes.set('/to-name', redirect(`http://localhost:${port}/article`));
    routes.set('/to-mapped', redirect(`http://[::ffff:127.0.0.1]:${port}/article`));
    const previewer = createLinkPreviewer({ resolveHost: testResolver });
    for (const path of ['/to-loopback', '/to-name', '/to-mapped']) {
      hits.length = 0;
      expect(await failure(previewer.preview(url('pub.test', path)))).toEqual({
        status: 400,
        message: NOT_ALLOWED,
      });
      expect(hits).toEqual([`pub.test:${port}${path}`]);
    }
  });

  it('refuses loopback, private and mapped addresses with the default guard', async () => {
    hits.length = 0;
    const previewer = createLinkPreviewer();
    for (const target of [
      `http://127.0.0.1:${port}/article`,
      `http://localhost:${port}/article`,
      `http://[::1]:${port}/`,
      `http://[::ffff:7f00:1]:${port}/`,
      'http://10.1.2.3/',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      'http://[fd00::1]/',
      'http://[fe80::1]/',
    ]) {
      expect(await failure(previewer.preview(target)), target).toEqual({ status: 400, message: NOT_ALLOWED });
    }
    expect(hits).toEqual([]);
  });

  it('refuses a name that resolves to a private, loopback or link-local address, even among public ones', async () => {
    for (const answers of [
      [{ address: '127.0.0.1', family: 4 }],
      [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.1', family: 4 },
      ],
      [{ address: '169.254.169.254', family: 4 }],
      [
        { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
        { address: 'fe80::1', family: 6 },
      ],
      [{ address: '::1', family: 6 }],
    ]) {
      const previewer = createLinkPreviewer({ resolveHost: createHostResolver(async () => answers) });
      expect(await failure(previewer.preview('https://rebind.example/'))).toEqual({
        status: 400,
        message: NOT_ALLOWED,
      });
    }
  });

  it('times out, stops reading at 512 KB, and parses only HTML', async () => {
    routes.set('/slow', () => {}); // never answers
    const quick = createLinkPreviewer({ resolveHost: testResolver, limits: { timeoutMs: 300 } });
    // The page never answers: only the time cap can end this request.
    expect(await failure(quick.preview(url('slow.test', '/slow')))).toEqual({ status: 502, message: FAILED });

    routes.set(
      '/huge',
      html(`<title>Early</title>${' '.repeat(600 * 1024)}<meta property="og:description" content="late">`),
    );
    routes.set('/json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"title":"no"}');
    });
    routes.set('/gone', (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<title>error page</title>');
    });
    routes.set('/gz', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' });
      res.end(gzipSync('<meta property="og:site_name" content="Zipped">'));
    });
    const previewer = createLinkPreviewer({ resolveHost: testResolver });
    expect(await previewer.preview(url('big.test', '/huge'))).toMatchObject({
      title: 'Early',
      description: null,
    });
    expect(await previewer.preview(url('big.test', '/json'))).toMatchObject({ title: null, image: null });
    expect(await failure(previewer.preview(url('big.test', '/gone')))).toEqual({
      status: 502,
      message: FAILED,
    });
    expect(await previewer.preview(url('big.test', '/gz'))).toMatchObject({ site_name: 'Zipped' });
  });

  it('caches results for an hour and failures for less, in a bounded LRU', async () => {
    let clock = 1_000_000;
    routes.set('/cached', html('<title>v1</title>'));
    const previewer = createLinkPreviewer({ resolveHost: testResolver, now: () => clock, cacheSize: 2 });
    const target = url('cache.test', '/cached');
    expect((await previewer.preview(target)).title).toBe('v1');
    routes.set('/cached', html('<title>v2</title>'));
    clock += 59 * 60_000;
    expect((await previewer.preview(target)).title).toBe('v1');
    clock += 2 * 60_000;
    expect((await previewer.preview(target)).title).toBe('v2');

    routes.set('/flaky', (_req, res) => {
      res.writeHead(502);
      res.end();
    });
    const flaky = url('cache.test', '/flaky');
    expect((await failure(previewer.preview(flaky))).status).toBe(502);
    routes.set('/flaky', html('<title>back</title>'));
    expect((await failure(previewer.preview(flaky))).status).toBe(502);
    clock += 6 * 60_000;
    expect((await previewer.preview(flaky)).title).toBe('back');

    await previewer.preview(url('cache.test', '/cached?x=1'));
    expect(previewer.size()).toBe(2);
  });
});

describe('GET /api/chat/link-preview', () => {
  it('needs a signed-in user and an http(s) URL', async () => {
    await refused(
      api(server, 'GET', '/api/chat/link-preview?url=https://example.com/'),
      401,
      'Authentication required',
    );
    const me = await kit.person();
    await refused(
      api(server, 'GET', '/api/chat/link-preview?url=ftp://example.com/x', { token: me.token }),
      400,
      'url must be a valid http or https URL',
    );
    await refused(api(server, 'GET', '/api/chat/link-preview', { token: me.token }), 400, 'url is required');
  });

  it('refuses private addresses before any request is made', async () => {
    const me = await kit.person();
    hits.length = 0;
    for (const target of [`http://127.0.0.1:${port}/article`, `http://localhost:${port}/article`]) {
      await refused(
        api(server, 'GET', `/api/chat/link-preview?url=${encodeURIComponent(target)}`, { token: me.token }),
        400,
        NOT_ALLOWED,
      );
    }
    expect(hits).toEqual([]);
    const trpc = await api(
      server,
      'GET',
      `/trpc/linkPreview.get?input=${encodeURIComponent(JSON.stringify({ url: `http://127.0.0.1:${port}/` }))}`,
      { token: me.token },
    );
    expect(trpc.status).toBe(400);
  });

  it('answers the contract shape for a reachable page', async () => {
    // The server's guard refuses the local site, so this one test swaps in the test resolver.
    const spy = vi
      .spyOn(previews, 'linkPreviewer')
      .mockReturnValue(createLinkPreviewer({ resolveHost: testResolver }));
    try {
      routes.set(
        '/shape',
        html('<title>Shape &amp; size</title><meta property="og:site_name" content="Local">'),
      );
      const me = await kit.person();
      const target = url('shape.test', '/shape');
      const body = await ok(
        api(server, 'GET', `/api/chat/link-preview?url=${encodeURIComponent(target)}`, { token: me.token }),
      );
      expect(body).toEqual({
        url: target,
        title: 'Shape & size',
        description: null,
        image: null,
        site_name: 'Local',
      });
    } finally {
      spy.mockRestore();
    }
  });
});
