import { createRequire } from 'node:module';
import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTML_PAGE_CSP } from '../../src/rest/middleware/security-headers';
import { chromiumPath, chromiumSkipReason } from '../helpers/chromium';
import { api } from '../helpers/identity';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { startWebBackend, type WebBackend } from '../helpers/web-backend';
import { createConnection, openBrowserPage, type ProxyUser, proxyUser } from '../helpers/web-proxy';

// GET /browser?connection={id}: the page itself over HTTP, then the whole embedded browser in a
// real Chromium — frames through the proxy, the runtime catching fetch/XHR/WebSocket, the address
// bar, history and tabs, and proxied content kept away from Portal's own API.

const require = createRequire(import.meta.url);

let server: TestServer;
let backend: WebBackend;
let alice: ProxyUser;
let bob: ProxyUser;
let web: string;

beforeAll(async () => {
  backend = await startWebBackend();
  server = await startTestServer({ env: NO_REQUEST_LIMITS });
  [alice, bob] = await Promise.all([proxyUser(server), proxyUser(server)]);
  web = await createConnection(server, alice, {
    type: 'http',
    host: '127.0.0.1',
    port: backend.port,
    name: 'Lab',
  });
});
afterAll(async () => {
  await server?.close();
  await backend?.close();
});

describe('GET /browser', () => {
  it('serves the page with its own CSP, no inline script, and a ticketed proxy prefix', async () => {
    const { res, html, proxy } = await openBrowserPage(server, alice, web);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toBe(HTML_PAGE_CSP);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(html).toContain('<title>Lab – Portal browser</title>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(proxy).toMatch(new RegExp(`^/proxy/${web}/~t\\.`));
    expect(html).toContain(`data-home="http://127.0.0.1:${backend.port}/"`);
    for (const asset of ['browser.js', 'address.js', 'proxy-runtime.js', 'browser.css']) {
      const file = await fetch(`${server.url}/browser/assets/${asset}`);
      expect(file.status, asset).toBe(200);
      expect(file.headers.get('content-type')).toMatch(
        asset.endsWith('.css') ? /^text\/css/ : /^text\/javascript/,
      );
    }
    expect((await fetch(`${server.url}/browser/assets/../../server.ts`)).status).toBe(404);
  });

  it('answers 404 to another user, 400 for other types or no id, 401 without a session', async () => {
    expect((await openBrowserPage(server, bob, web)).res.status).toBe(404);
    const ssh = await createConnection(server, alice, {
      type: 'ssh',
      host: '127.0.0.1',
      config: { username: 'u' },
    });
    const sshPage = await openBrowserPage(server, alice, ssh);
    expect(sshPage.res.status).toBe(400);
    expect(JSON.parse(sshPage.html).error).toBe('This connection does not open in the embedded browser');
    expect((await api(server, 'GET', '/browser', { token: alice.jwt })).status).toBe(400);
    expect((await fetch(`${server.url}/browser?connection=${web}`)).status).toBe(401);
    // Bearer clients (and ?token=) get the page too.
    expect((await api(server, 'GET', `/browser?connection=${web}`, { token: alice.jwt })).status).toBe(200);
  });
});

const skip = chromiumSkipReason();
if (skip) console.warn(`skipping the embedded browser in Chromium: ${skip}`);

describe.skipIf(Boolean(skip))('the embedded browser in Chromium', () => {
  let chromium: Browser;
  let page: Page;

  beforeAll(async () => {
    const { chromium: launcher } = require('playwright-core') as typeof import('playwright-core');
    chromium = await launcher.launch({ executablePath: chromiumPath()!, args: ['--no-sandbox'] });
    const context = await chromium.newContext();
    const [name, value] = alice.cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: server.url }]);
    page = await context.newPage();
  });
  afterAll(() => chromium?.close());

  const address = () => page.locator('#address').inputValue();
  const frameWith = async (selector: string): Promise<Frame> => {
    for (let i = 0; i < 200; i++) {
      for (const frame of page.frames()) {
        if (frame !== page.mainFrame() && (await frame.$(selector).catch(() => null))) return frame;
      }
      await page.waitForTimeout(50);
    }
    throw new Error(`no frame shows ${selector}`);
  };
  // Page-side code is given as text: this project compiles without the DOM library.
  // Polled through locators: the page's CSP forbids evaluating text there.
  const waitForAddress = (expected: string) => expect.poll(address, { timeout: 15_000 }).toBe(expected);

  it('shows the backend page in a sandboxed frame that cannot use Portal’s API', async () => {
    await page.goto(`${server.url}/browser?connection=${web}`);
    await waitForAddress(`http://127.0.0.1:${backend.port}/`);
    const frame = await frameWith('#root');
    expect(await frame.evaluate('window.origin')).toBe('null');
    // Even going around the runtime, straight at Portal with credentials: the browser has none to
    // send from an opaque origin, and Portal's answer is not readable there.
    const direct = await frame.evaluate(
      "fetch(location.origin + '/api/connections', { credentials: 'include' }).then((r) => r.status, () => 'blocked')",
    );
    expect(direct).toBe('blocked');
    await expect.poll(() => page.title(), { timeout: 15_000 }).toBe('Backend page – Portal');
  });

  it('runs the page’s own fetch, XHR, WebSocket and storage through the proxy', async () => {
    backend.seen.splice(0);
    await page.locator('#address').fill('/app');
    await page.locator('#address').press('Enter');
    await waitForAddress(`http://127.0.0.1:${backend.port}/app`);
    const frame = await frameWith('#storage');
    const filled = async () => {
      const texts = await Promise.all(
        ['#fetch', '#xhr', '#ws', '#storage'].map((id) => frame.locator(id).textContent()),
      );
      return texts.every((t) => t !== '…');
    };
    await expect.poll(filled, { timeout: 15_000 }).toBe(true);
    expect(await frame.locator('#fetch').textContent()).toBe('cookie=');
    expect(await frame.locator('#xhr').textContent()).toBe('path=/path/xhr');
    expect(JSON.parse((await frame.locator('#ws').textContent())!)).toEqual({
      hello: '/ws-app',
      cookie: null,
    });
    expect(await frame.locator('#storage').textContent()).toBe('kept');
    expect(backend.seen.map((r) => r.url)).toEqual(
      expect.arrayContaining(['/app', '/whoami', '/path/xhr', '/ws-app']),
    );
  });

  it('goes back and forward, and opens and closes tabs with the shortcuts', async () => {
    expect(await page.locator('#back').isDisabled()).toBe(false);
    await page.locator('#back').click();
    await waitForAddress(`http://127.0.0.1:${backend.port}/`);
    await page.locator('#forward').click();
    await waitForAddress(`http://127.0.0.1:${backend.port}/app`);
    await page.keyboard.press('Control+t');
    await expect.poll(() => page.locator('.tab').count()).toBe(2);
    await waitForAddress(`http://127.0.0.1:${backend.port}/`);
    await page.keyboard.press('Control+Tab');
    await waitForAddress(`http://127.0.0.1:${backend.port}/app`);
    await page.keyboard.press('Control+w');
    await expect.poll(() => page.locator('.tab').count()).toBe(1);
    expect(await address()).toBe(`http://127.0.0.1:${backend.port}/`);
  });

  it('follows links clicked inside the frame', async () => {
    await page.locator('#address').fill('/');
    await page.locator('#address').press('Enter');
    await (await frameWith('#root')).locator('#root').click();
    // /a answers text/plain: no runtime there, the frame itself shows the backend's answer.
    const landed = await frameWith('pre');
    expect(await landed.locator('pre').textContent()).toBe('path=/a');
  });
});
