import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '../helpers/env';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { startWebBackend, type WebBackend } from '../helpers/web-backend';
import {
  defaultBrowserId,
  openBrowserPage,
  type ProxyUser,
  proxiedSocket,
  proxyUser,
  viaProxy,
} from '../helpers/web-proxy';

// Browser mode (the default "Web Browser" connection): any public site with the target URL in the
// path, and never loopback, private, link-local or metadata addresses — checked after DNS, on
// every request and on every redirect. The test backend sits on loopback, so this server treats
// loopback on the backend's port (only) as public (PROXY_TEST_LOOPBACK_PORTS) and resolves test
// names from a hosts file (PROXY_TEST_HOSTS_FILE).

let server: TestServer;
let backend: WebBackend;
let user: ProxyUser;
let browser: string;
let proxy: string;
let hostsDir: string;

beforeAll(async () => {
  backend = await startWebBackend();
  hostsDir = makeTempDir('portal-proxy-hosts-');
  const hosts = join(hostsDir, 'hosts');
  writeFileSync(
    hosts,
    [
      '127.0.0.1 site.test',
      '127.0.0.1 evil.test',
      '127.0.0.1 mixed.test',
      '93.184.216.34 mixed.test',
      '10.1.2.3 intranet.test',
    ].join('\n'),
  );
  server = await startTestServer({
    env: {
      ...NO_REQUEST_LIMITS,
      PROXY_TEST_HOSTS_FILE: hosts,
      PROXY_TEST_LOOPBACK_PORTS: String(backend.port),
    },
  });
  user = await proxyUser(server);
  browser = await defaultBrowserId(server, user);
  proxy = (await openBrowserPage(server, user, browser)).proxy!;
});
afterAll(async () => {
  await server?.close();
  await backend?.close();
  removeDir(hostsDir);
});

const site = () => `http://site.test:${backend.port}`;
const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;

describe('browser mode', () => {
  it('opens the home page when no address is given', async () => {
    const res = await viaProxy(server, `${proxy}/`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${proxy}/https://duckduckgo.com/`);
  });

  it('browses a site by its full URL, with every link (other sites too) kept inside the proxy', async () => {
    const res = await viaProxy(server, `${proxy}/${site()}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`href="${proxy}/${site()}/a?x=1#frag"`);
    expect(html).toContain(`href="${proxy}/https://other.example/x"`);
    expect(html).toContain(`src="${proxy}/http://127.0.0.1:${backend.port}/img.png"`);
    // A proxy in front that merges `//` still reaches the same page.
    const merged = await viaProxy(server, `${proxy}/http:/site.test:${backend.port}/whoami`);
    expect(await merged.text()).toBe('cookie=');
    const seen = backend.seen.at(-1)!;
    expect(seen.headers.host).toBe(`site.test:${backend.port}`);
  });

  it('follows redirects through the proxy: Location rewritten to the proxied target', async () => {
    const res = await viaProxy(
      server,
      `${proxy}/${site()}/redirect?to=${encodeURIComponent(`${site()}/whoami`)}`,
    );
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${proxy}/${site()}/whoami`);
  });

  it('refuses loopback, private, link-local and metadata addresses, by literal or by name', async () => {
    const refused = [
      `http://127.0.0.1:${server.port}/health`,
      `http://localhost:${server.port}/health`,
      `http://[::1]:${server.port}/health`,
      'http://10.0.0.1/',
      'http://192.168.1.1/',
      'http://172.16.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00::1]/',
      'http://[::ffff:127.0.0.1]/',
      // Names resolving to loopback or a private address, and a name with one private answer.
      `http://evil.test:${server.port}/health`,
      'http://intranet.test/',
      `http://mixed.test:${backend.port}/`,
    ];
    for (const target of refused) {
      const res = await viaProxy(server, `${proxy}/${target}`);
      expect(res.status, target).toBe(403);
      expect(await errorOf(res), target).toBe('This address is not allowed');
    }
    // The loopback exception of this test server is for the backend's port only.
    expect((await viaProxy(server, `${proxy}/http://evil.test:${backend.port}/`)).status).toBe(200);
  });

  it('refuses a redirect to loopback instead of passing it on', async () => {
    const to = encodeURIComponent(`http://127.0.0.1:${server.port}/health`);
    const res = await viaProxy(server, `${proxy}/${site()}/redirect?to=${to}`);
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toBe('This address is not allowed');
    const byName = encodeURIComponent(`http://evil.test:${server.port}/health`);
    expect((await viaProxy(server, `${proxy}/${site()}/redirect?to=${byName}`)).status).toBe(403);
  });

  it('refuses WebSockets to private addresses, and relays them to public ones', async () => {
    await expect(
      proxiedSocket(server, `${proxy}/ws://127.0.0.1:${server.port}/ws/portal`).opened,
    ).rejects.toThrow('status 403');
    const ok = proxiedSocket(server, `${proxy}/ws://site.test:${backend.port}/ws/echo`);
    await ok.opened;
    ok.ws.close();
  });

  it('refuses addresses that are not web addresses or carry credentials', async () => {
    expect((await viaProxy(server, `${proxy}/ftp://site.test/`)).status).toBe(400);
    const creds = await viaProxy(server, `${proxy}/http://user:pw@site.test:${backend.port}/`);
    expect(creds.status).toBe(400);
    expect(await errorOf(creds)).toBe('Addresses with credentials are not allowed');
  });
});
