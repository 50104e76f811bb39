import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
// @ts-expect-error The browser page's module is plain JavaScript.
import { proxyUrlOf, resolveAddress } from '../../src/rest/pages/browser/address.js';
import { splitProxyPath } from '../../src/services/web-proxy/access';
import { rewriteHtml } from '../../src/services/web-proxy/html-rewriter';
import { targetUrlOf, webTargetOf } from '../../src/services/web-proxy/targets';
import { createUrlRewriter, cssRewriteStream } from '../../src/services/web-proxy/url-rewriter';

// The pure parts of the web proxy: what the address bar makes of input, how targets and proxy
// paths map to each other, and the streaming rewriters fed in awkward chunks.

const browser = webTargetOf({
  type: 'http_proxy',
  host: 'duckduckgo.com',
  port: 443,
  config: { browser_mode: true, home_url: 'https://duckduckgo.com' },
});
const panel = webTargetOf({
  type: 'grafana',
  host: '192.168.1.5',
  port: 3000,
  config: { path: '/dashboards' },
});

async function collect(stream: Readable) {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('address bar', () => {
  const ctx = { mode: 'browser', current: 'https://example.com/docs/page?x=1' };
  it('accepts full URLs, bare host names (https), relative paths, and searches the rest', () => {
    expect(resolveAddress('http://a.example/x', ctx)).toBe('http://a.example/x');
    expect(resolveAddress('example.org', ctx)).toBe('https://example.org/');
    expect(resolveAddress('example.org:8443/a?b', ctx)).toBe('https://example.org:8443/a?b');
    expect(resolveAddress('localhost:3000', ctx)).toBe('https://localhost:3000/');
    expect(resolveAddress('/search?q=1', ctx)).toBe('https://example.com/search?q=1');
    expect(resolveAddress('../up', ctx)).toBe('https://example.com/up');
    expect(resolveAddress('two words', ctx)).toBe('https://duckduckgo.com/?q=two%20words');
    expect(resolveAddress('  ', ctx)).toBeNull();
    expect(resolveAddress('ftp://files.example/', ctx)).toBeNull();
    expect(resolveAddress('status', { mode: 'backend', current: 'http://10.0.0.2:3000/a/b' })).toBe(
      'http://10.0.0.2:3000/status',
    );
  });

  it('maps targets to proxy URLs; a backend connection reaches only its backend', () => {
    expect(proxyUrlOf('https://a.example/x?y#z', { mode: 'browser', proxy: '/proxy/c/~t.k' })).toBe(
      '/proxy/c/~t.k/https://a.example/x?y#z',
    );
    const backend = { mode: 'backend', proxy: '/proxy/c/~t.k', origin: 'http://10.0.0.2:3000' };
    expect(proxyUrlOf('http://10.0.0.2:3000/d/1?q#h', backend)).toBe('/proxy/c/~t.k/d/1?q#h');
    expect(proxyUrlOf('http://elsewhere.example/', backend)).toBeNull();
  });
});

describe('targets', () => {
  it('knows each web type’s backend, home and TLS setting', () => {
    expect(browser).toMatchObject({ mode: 'browser', verifyTls: true });
    expect(browser.home.href).toBe('https://duckduckgo.com/');
    expect(panel.origin.href).toBe('http://192.168.1.5:3000/');
    expect(panel.home.href).toBe('http://192.168.1.5:3000/dashboards');
    const proxmox = webTargetOf({ type: 'proxmox', host: 'pve', port: 8006, config: { verify_tls: false } });
    expect(proxmox).toMatchObject({ mode: 'backend', verifyTls: false });
    expect(proxmox.origin.href).toBe('https://pve:8006/');
    expect(() => webTargetOf({ type: 'ssh', host: 'h', port: 22, config: {} })).toThrow(/embedded browser/);
  });

  it('reads the target from the path: whole URLs in browser mode, paths on the backend otherwise', () => {
    expect(targetUrlOf(browser, '/https://a.example/p', '?q=1').href).toBe('https://a.example/p?q=1');
    expect(targetUrlOf(browser, '/https:/a.example/p', '').href).toBe('https://a.example/p');
    expect(targetUrlOf(browser, '/a.example/p', '').href).toBe('https://a.example/p');
    expect(targetUrlOf(browser, '/wss://a.example/ws', '').href).toBe('https://a.example/ws');
    expect(() => targetUrlOf(browser, '/javascript:alert(1)', '')).toThrow('Not a valid web address');
    // A path can never leave the backend.
    expect(targetUrlOf(panel, '//evil.example/x', '').href).toBe('http://192.168.1.5:3000//evil.example/x');
    expect(targetUrlOf(panel, '/a/../../b', '?c').href).toBe('http://192.168.1.5:3000/b?c');
  });

  it('splits /proxy paths into connection, ticket and rest', () => {
    expect(splitProxyPath('/proxy/abc')).toEqual({ connectionId: 'abc', rest: '' });
    expect(splitProxyPath('/proxy/abc/~t.v1.k.i.b/https://x/y')).toEqual({
      connectionId: 'abc',
      ticket: 'v1.k.i.b',
      rest: '/https://x/y',
    });
    expect(splitProxyPath('/proxyx/abc')).toBeNull();
  });
});

describe('rewriters', () => {
  it('rewrites HTML split at every byte, keeping untouched markup byte for byte', async () => {
    const page =
      '<!DOCTYPE html><html><head><title>é</title></head><body><a href="/x">x</a><!-- c --><p class=a>t</p>' +
      '<style>.a{background:url(/y.png)}</style></body></html>';
    const bytes = Buffer.from(page, 'utf8');
    const source = Readable.from([...bytes].map((b) => Buffer.from([b])));
    const rewriter = createUrlRewriter(panel, '/proxy/c', new URL('http://192.168.1.5:3000/'));
    const out = (
      await collect(rewriteHtml(source, rewriter, { encoding: 'utf8', inject: '<script src=r></script>' }))
    ).toString('utf8');
    expect(out).toBe(
      '<!DOCTYPE html><html><head><script src=r></script><title>é</title></head><body><a href="/proxy/c/x">x</a>' +
        '<!-- c --><p class=a>t</p><style>.a{background:url(/proxy/c/y.png)}</style></body></html>',
    );
  });

  it('keeps the bytes of pages in other charsets', async () => {
    const latin = Buffer.from([0x3c, 0x70, 0x3e, 0xe9, 0xe8, 0x3c, 0x2f, 0x70, 0x3e]);
    const rewriter = createUrlRewriter(panel, '/proxy/c', new URL('http://192.168.1.5:3000/'));
    const out = await collect(
      rewriteHtml(Readable.from([latin]), rewriter, { encoding: 'latin1', inject: '' }),
    );
    expect(out.equals(latin)).toBe(true);
  });

  it('rewrites CSS cut in the middle of a url()', async () => {
    const rewriter = createUrlRewriter(browser, '/proxy/c', new URL('https://a.example/css/site.css'));
    const css = 'a{background:url("../i.png")}\nb{background:url(//cdn.example/j.png)}';
    const parts = [css.slice(0, 20), css.slice(20, 45), css.slice(45)].map((p) => Buffer.from(p));
    const out = (await collect(Readable.from(parts).pipe(cssRewriteStream(rewriter, 'utf8')))).toString();
    expect(out).toBe(
      'a{background:url("/proxy/c/https://a.example/i.png")}\nb{background:url(/proxy/c/https://cdn.example/j.png)}',
    );
  });
});
