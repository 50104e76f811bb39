import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpAllTables } from '../helpers/database';
import { api } from '../helpers/identity';
import { waitUntil } from '../helpers/relay-client';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { BIG_BYTES, startWebBackend, type WebBackend } from '../helpers/web-backend';
import {
  createConnection,
  openBrowserPage,
  type ProxyUser,
  proxiedSocket,
  proxyUser,
  viaProxy,
} from '../helpers/web-proxy';

// ALL /proxy/{connection_id}/{path} for web connections in backend mode (http, https, panels)
// against a real HTTP backend: rewriting, headers each way, the server-side cookie jar,
// streaming, WebSocket upgrades, TLS verification and the refusals of API.md §6.

let server: TestServer;
let backend: WebBackend;
let tlsBackend: WebBackend;
let alice: ProxyUser;
let bob: ProxyUser;
let web: string;
let proxy: string;

beforeAll(async () => {
  [backend, tlsBackend] = await Promise.all([startWebBackend(), startWebBackend({ tls: true })]);
  server = await startTestServer({
    env: {
      ...NO_REQUEST_LIMITS,
      TRUST_PROXY: '1',
      PROXY_TIMEOUT_SECONDS: '2',
      PROXY_MAX_REQUEST_BYTES: '65536',
    },
  });
  [alice, bob] = await Promise.all([proxyUser(server), proxyUser(server)]);
  web = await createConnection(server, alice, { type: 'http', host: '127.0.0.1', port: backend.port });
  const page = await openBrowserPage(server, alice, web);
  proxy = page.proxy!;
});
afterAll(async () => {
  await server?.close();
  await backend?.close();
  await tlsBackend?.close();
});

const bearer = (user: ProxyUser) => ({ authorization: `Bearer ${user.jwt}` });
const lastSeen = (path: string) => [...backend.seen].reverse().find((r) => r.url === path);

describe('web proxy: pages and links', () => {
  it('serves the page with its links pointing into the proxy and the runtime injected first', async () => {
    const res = await viaProxy(server, `${proxy}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`href="${proxy}/a?x=1#frag"`);
    expect(html).toContain(`href="${proxy}/b/c.html"`);
    expect(html).toContain(`href="${proxy}/abs"`);
    expect(html).toContain(`src="${proxy}/img.png"`);
    expect(html).toContain(`srcset="${proxy}/s1.png 1x, ${proxy}/s2.png 2x"`);
    expect(html).toContain(`action="${proxy}/submit"`);
    expect(html).toContain(`600; url=${proxy}/refreshed`);
    expect(html).toContain(`url('${proxy}/bg.png')`);
    expect(html).toContain(`url(&quot;${proxy}/inline.png&quot;)`);
    // Another site is out of reach in backend mode; fragments and scripts stay as they are.
    expect(html).toContain('href="https://other.example/x"');
    expect(html).toContain('href="#top"');
    expect(html).toContain('href="javascript:void(0)"');
    expect(html).toContain(`window.marker = '<a href="/not-rewritten">'`);
    expect(html).toContain('target="_self"');
    expect(html).not.toContain('integrity=');
    expect(html).not.toContain('http-equiv="Content-Security-Policy"');
    const runtime = html.indexOf('/browser/assets/proxy-runtime.js');
    expect(runtime).toBeGreaterThan(0);
    expect(runtime).toBeLessThan(html.indexOf('<link'));
  });

  it('relays under a sandboxing CSP, drops headers that would act on Portal, keeps caching private', async () => {
    const res = await viaProxy(server, `${proxy}/`);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(/^sandbox allow-scripts/);
    expect(csp).not.toContain('allow-same-origin');
    expect(csp).not.toContain('allow-top-navigation');
    expect(res.headers.get('x-frame-options')).toBeNull();
    expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect(res.headers.get('cache-control')).toBe('private, max-age=60');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-ratelimit-limit')).toBe('1200');
  });

  it('rewrites CSS urls and imports', async () => {
    const res = await viaProxy(server, `${proxy}/style.css`);
    const css = await res.text();
    expect(css).toContain(`@import "${proxy}/more.css"`);
    expect(css).toContain(`url(${proxy}/bg.png)`);
    expect(css).toContain('url("https://other.example/y.png")');
  });

  it('rewrites compressed pages, and passes other compressed bodies through as they are', async () => {
    const page = await viaProxy(server, `${proxy}/gzip.html`, { headers: { 'accept-encoding': 'gzip' } });
    expect(page.headers.get('content-encoding')).toBeNull();
    expect(await page.text()).toContain(`href="${proxy}/zipped"`);
    const text = await viaProxy(server, `${proxy}/gzip.txt`, { headers: { 'accept-encoding': 'gzip' } });
    expect(text.headers.get('content-encoding')).toBe('gzip');
    expect(await text.text()).toBe('plain zipped text');
    // A client that takes no compression gets none.
    const identity = await viaProxy(server, `${proxy}/gzip.txt`, {
      headers: { 'accept-encoding': 'identity' },
    });
    expect(identity.headers.get('content-encoding')).toBeNull();
  });

  it("passes the backend's own error pages through", async () => {
    const res = await viaProxy(server, `${proxy}/missing`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(await res.text()).toContain('backend says not found');
  });

  it('relays every method with its body, and refuses bodies over PROXY_MAX_REQUEST_BYTES with 413', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await viaProxy(server, `${proxy}/echo`, { method, body: 'x'.repeat(1000) });
      expect(await res.json()).toEqual({ method, length: 1000, body: 'x'.repeat(1000) });
    }
    const big = await viaProxy(server, `${proxy}/echo`, { method: 'POST', body: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toBe('Request body too large');
  });

  it('streams a large body without holding it, and stops the backend when the client goes away', async () => {
    const full = await viaProxy(server, `${proxy}/big`);
    expect(full.headers.get('content-length')).toBe(String(BIG_BYTES));
    let total = 0;
    for await (const chunk of full.body!) total += (chunk as Uint8Array).length;
    expect(total).toBe(BIG_BYTES);

    const before = backend.bigResponses().length;
    const partial = await viaProxy(server, `${proxy}/big`);
    const reader = partial.body!.getReader();
    await reader.read();
    // Backpressure holds the backend at what the sockets buffer while the client reads nothing...
    await new Promise((r) => setTimeout(r, 500));
    await reader.cancel();
    // ...and the client going away ends the backend's response.
    await waitUntil(() => backend.bigResponses().length > before, 'the backend response to end', 10_000);
    const last = backend.bigResponses().at(-1)!;
    expect(last.completed).toBe(false);
    expect(last.written).toBeLessThan(BIG_BYTES);
  });

  it('survives a backend that resets mid-body: the response is cut, the server goes on', async () => {
    for (const path of ['/reset.html', '/reset.bin', '/reset.html']) {
      const res = await viaProxy(server, `${proxy}${path}`);
      expect(res.status).toBe(200);
      await expect(res.text()).rejects.toThrow();
    }
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('answers 504 when the backend does not answer in time', async () => {
    const res = await viaProxy(server, `${proxy}/hang`);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: string }).error).toContain('did not answer in time');
  });
});

describe('web proxy: credentials and cookies', () => {
  it("never sends Portal's cookie or Authorization upstream, with any way of signing in", async () => {
    const ways: Array<[string, Record<string, string>]> = [
      [`${proxy}/headers`, { cookie: alice.cookie, authorization: `Bearer ${alice.jwt}` }],
      [`/proxy/${web}/headers`, bearer(alice)],
      [`/proxy/${web}/headers`, { cookie: alice.cookie }],
    ];
    for (const [path, headers] of ways) {
      // The ticket is bound to the client's address; the others may come through a proxy.
      const forwarded: Record<string, string> = path.includes('/~t.')
        ? {}
        : { 'x-forwarded-for': '198.51.100.7' };
      const res = await viaProxy(server, path, { headers: { ...headers, ...forwarded } });
      expect(res.status, path).toBe(200);
      const seen = (await res.json()) as Record<string, string>;
      const text = JSON.stringify(seen);
      expect(text).not.toContain(alice.jwt);
      expect(text).not.toContain(alice.cookie.split('=')[1]);
      expect(text).not.toContain('198.51.100.7');
      expect(seen.host).toBe(`127.0.0.1:${backend.port}`);
    }
  });

  it("sends the connection's own login instead, and a page's own Authorization when it has none", async () => {
    const withLogin = await createConnection(server, alice, {
      type: 'http',
      host: '127.0.0.1',
      port: backend.port,
      config: { username: 'admin', password: 'panel-pass' },
    });
    const res = await viaProxy(server, `/proxy/${withLogin}/headers`, { headers: bearer(alice) });
    const seen = (await res.json()) as Record<string, string>;
    expect(seen.authorization).toBe(`Basic ${Buffer.from('admin:panel-pass').toString('base64')}`);
    // With a ticket, Portal's credential is in the path: the page's own header goes through.
    const page = await viaProxy(server, `${proxy}/headers`, {
      headers: { authorization: 'Bearer app-token' },
    });
    expect(((await page.json()) as Record<string, string>).authorization).toBe('Bearer app-token');
  });

  it('keeps the sites cookies on the server: set by a redirect, sent back, never shown to the browser', async () => {
    const login = await viaProxy(server, `${proxy}/login`);
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toBe(`${proxy}/whoami`);
    expect(login.headers.get('set-cookie')).toBeNull();
    const who = await viaProxy(server, `${proxy}/whoami`);
    expect(await who.text()).toBe('cookie=sid=s3cr3t-session; theme=dark');
    // The jar is the connection's: another connection to the same backend has none.
    const other = await createConnection(server, alice, {
      type: 'http',
      host: '127.0.0.1',
      port: backend.port,
    });
    const fresh = await viaProxy(server, `/proxy/${other}/whoami`, { headers: bearer(alice) });
    expect(await fresh.text()).toBe('cookie=');
    // Sealed at rest.
    const dump = await dumpAllTables(server.deps.database);
    expect(dump).not.toContain('s3cr3t-session');
    // And forgotten on request.
    const cleared = await api(server, 'DELETE', `/api/connections/${web}/cookies`, { token: alice.jwt });
    expect(cleared.body).toEqual({ success: true });
    expect(await (await viaProxy(server, `${proxy}/whoami`)).text()).toBe('cookie=');
    expect((await api(server, 'DELETE', `/api/connections/${web}/cookies`, { token: bob.jwt })).status).toBe(
      404,
    );
  });
});

describe('web proxy: WebSockets', () => {
  it('relays a WebSocket through the /proxy upgrade, with the jar cookies and a ticket', async () => {
    await viaProxy(server, `${proxy}/login`);
    const socket = proxiedSocket(server, `${proxy}/ws/echo?room=1`);
    await socket.opened;
    await waitUntil(() => socket.messages.length === 1, 'the hello frame');
    const hello = JSON.parse(socket.messages[0]!);
    expect(hello).toEqual({ hello: '/ws/echo?room=1', cookie: 'sid=s3cr3t-session; theme=dark' });
    socket.ws.send('ping through the proxy');
    await waitUntil(() => socket.messages.length === 2, 'the echo');
    expect(socket.messages[1]).toBe('ping through the proxy');
    socket.ws.send(Buffer.from([1, 2, 3]));
    await waitUntil(() => socket.messages.length === 3, 'the binary echo');
    socket.ws.close();
    const upgrade = [...backend.seen].reverse().find((r) => r.method === 'UPGRADE')!;
    expect(JSON.stringify(upgrade.headers)).not.toContain(alice.jwt);
  });

  it("refuses another user's connection, a missing credential and a cross-site cookie upgrade", async () => {
    await expect(proxiedSocket(server, `/proxy/${web}/ws/echo`, bearer(bob)).opened).rejects.toThrow(
      'status 404',
    );
    await expect(proxiedSocket(server, `/proxy/${web}/ws/echo`).opened).rejects.toThrow('status 401');
    await expect(
      proxiedSocket(server, `/proxy/${web}/ws/echo`, { cookie: alice.cookie, origin: 'https://evil.example' })
        .opened,
    ).rejects.toThrow('status 403');
    const ok = proxiedSocket(server, `/proxy/${web}/ws/echo`, bearer(alice));
    await ok.opened;
    ok.ws.close();
  });
});

describe('web proxy: refusals', () => {
  it("answers 404 for another user's connection, whatever the credential", async () => {
    const bobPage = await openBrowserPage(server, bob, web);
    expect(bobPage.res.status).toBe(404);
    for (const headers of [bearer(bob), { cookie: bob.cookie }]) {
      const res = await viaProxy(server, `/proxy/${web}/`, { headers });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: string }).error).toBe('Connection not found');
    }
  });

  it('answers 401 without credentials and for a forged, foreign or moved ticket', async () => {
    expect((await viaProxy(server, `/proxy/${web}/`)).status).toBe(401);
    expect((await viaProxy(server, `/proxy/${web}/~t.v1.forged/`)).status).toBe(401);
    const other = await createConnection(server, alice, {
      type: 'http',
      host: '127.0.0.1',
      port: backend.port,
    });
    const ticket = proxy.slice(proxy.indexOf('/~t.'));
    expect((await viaProxy(server, `/proxy/${other}${ticket}/`)).status).toBe(401);
    const moved = await viaProxy(server, `${proxy}/`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(moved.status).toBe(401);
    expect(((await moved.json()) as { error: string }).error).toContain('expired');
  });

  it('names the browser page in the connect info of web connections only', async () => {
    const info = await api(server, 'GET', `/api/connections/${web}/connect`, { token: alice.jwt });
    expect(info.body.browser_url).toBe(`/browser?connection=${web}`);
    const ssh = await createConnection(server, alice, {
      type: 'ssh',
      host: '127.0.0.1',
      config: { username: 'u' },
    });
    const sshInfo = await api(server, 'GET', `/api/connections/${ssh}/connect`, { token: alice.jwt });
    expect(sshInfo.body.browser_url).toBeUndefined();
  });

  it('refuses non-web connections and cross-site cookie requests', async () => {
    const ssh = await createConnection(server, alice, {
      type: 'ssh',
      host: '127.0.0.1',
      config: { username: 'u' },
    });
    const res = await viaProxy(server, `/proxy/${ssh}/`, { headers: bearer(alice) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe(
      'This connection does not open in the embedded browser',
    );
    const csrf = await viaProxy(server, `/proxy/${web}/echo`, {
      method: 'POST',
      body: 'x',
      headers: { cookie: alice.cookie, origin: 'https://evil.example' },
    });
    expect(csrf.status).toBe(403);
    expect(lastSeen('/echo')?.body).not.toBe('x');
  });

  it('moves a page opened on the cookie alone to a ticket URL', async () => {
    const res = await viaProxy(server, `/proxy/${web}/a?b=1`, {
      headers: { cookie: alice.cookie, 'sec-fetch-dest': 'document' },
    });
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^/proxy/${web}/~t\\.[\\w.-]+/a\\?b=1$`));
    expect(await (await viaProxy(server, location)).text()).toBe('path=/a');
  });
});

describe('web proxy: HTTPS backends', () => {
  it('verifies the certificate, unless the connection turns verification off', async () => {
    const strict = await createConnection(server, alice, {
      type: 'https',
      host: '127.0.0.1',
      port: tlsBackend.port,
    });
    const refused = await viaProxy(server, `/proxy/${strict}/`, { headers: bearer(alice) });
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as { error: string }).error).toMatch(
      /TLS certificate of 127\.0\.0\.1:\d+ could not be verified/,
    );
    const lax = await createConnection(server, alice, {
      type: 'https',
      host: '127.0.0.1',
      port: tlsBackend.port,
      config: { verify_tls: false },
    });
    const ok = await viaProxy(server, `/proxy/${lax}/style.css`, { headers: bearer(alice) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain(`url(/proxy/${lax}/bg.png)`);
  });
});
