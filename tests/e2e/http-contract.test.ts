import { Writable } from 'node:stream';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log';
import { SECURITY_HEADERS } from '../../src/rest/middleware/security-headers';
import type { FixtureRouter } from '../helpers/fixture-router';
import { fixtureRouter } from '../helpers/fixture-router';
import { startTestServer, type TestServer } from '../helpers/server';

// API.md §0 over real HTTP: headers on every response, the error body for every status, limits.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server: TestServer;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  // Same logger configuration as production, written to a stream the test can read.
  server = await startTestServer({
    router: fixtureRouter,
    log: createLogger('info', {}, sink),
    env: { RATE_LIMIT_PUBLIC: '100000' },
  });
});

afterAll(async () => {
  await server?.close();
});

const get = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);

async function expectErrorBody(res: Response, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.error).toBe(error);
  expect(body.status).toBe(status);
  expect(body.correlation_id).toMatch(UUID);
  expect(body.correlation_id).toBe(res.headers.get('x-correlation-id'));
  return body;
}

function expectContractHeaders(res: Response) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(res.headers.get(name), name).toBe(value);
  }
  expect(res.headers.get('x-source-hash')).toBe('test-build');
  expect(res.headers.get('x-correlation-id')).toMatch(UUID);
  expect(Number(res.headers.get('x-ratelimit-limit'))).toBeGreaterThan(0);
  expect(res.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
  expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 - 1);
}

describe('headers on every response', () => {
  it('carries the exact security headers of API.md §0 on success and on errors', async () => {
    for (const path of [
      '/health',
      '/health/ready',
      '/health/deployment',
      '/nope',
      '/fixtures/conflict',
      '/openapi.json',
    ]) {
      const res = await get(path);
      expectContractHeaders(res);
      await res.arrayBuffer();
    }
  });

  it('also on /trpc responses', async () => {
    const res = await get('/trpc/health.live');
    expect(res.status).toBe(200);
    expectContractHeaders(res);
  });

  it('gives the HEALTH tier to /health and PUBLIC to unknown paths', async () => {
    expect((await get('/health')).headers.get('x-ratelimit-limit')).toBe('1200');
    expect((await get('/nowhere')).headers.get('x-ratelimit-limit')).toBe('100000');
  });

  it('uses the page CSP override on /docs and keeps JSON responses strict', async () => {
    const page = await get('/docs/');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("script-src 'self' 'unsafe-inline'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(html).not.toMatch(/<script>(?!\s*<\/script>)/);
    const asset = await get('/docs/swagger-ui-init.js');
    expect(asset.status).toBe(200);
    const json = await get('/health');
    expect(json.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
  });
});

describe('health', () => {
  it('GET /health is alive', async () => {
    const res = await get('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /health/ready reports the database and bus', async () => {
    const res = await get('/health/ready');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { database: 'ok', bus: 'ok' } });
  });

  it('GET /health/deployment reports commit, version and uptime', async () => {
    const body = (await (await get('/health/deployment')).json()) as Record<string, unknown>;
    expect(body.commit).toBe('test-build');
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.uptime_seconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(String(body.started_at))).not.toBeNaN();
  });

  it('serves the OpenAPI document with the health paths', async () => {
    const doc = (await (await get('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/health', '/health/ready', '/health/deployment']),
    );
  });
});

describe('the error body for each status', () => {
  it('400: a validation error names the first invalid field', async () => {
    const post = (body: unknown) =>
      get('/fixtures/echo', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await expectErrorBody(
      await post({ username: 'ab', code: 'x' }),
      400,
      'username must be at least 3 characters',
    );
    await expectErrorBody(
      await post({ username: 'a b c', code: 'x' }),
      400,
      'username contains invalid characters',
    );
    await expectErrorBody(await post({ username: 'alice' }), 400, 'code is required');
    await expectErrorBody(await post({ username: 'alice', code: '' }), 400, 'code is required');
    await expectErrorBody(
      await post({ username: 'alice', code: 'x', count: 11 }),
      400,
      'count must be at most 10',
    );
    const ok = await post({ username: 'alice', code: 'x', count: 2 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ username: 'alice', count: 2 });
  });

  it('400: malformed JSON', async () => {
    const res = await get('/fixtures/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username": "alice",',
    });
    await expectErrorBody(res, 400, 'Malformed JSON in request body');
  });

  it('415: a body that is not JSON', async () => {
    const res = await get('/fixtures/echo', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    await expectErrorBody(res, 415, 'Content-Type must be application/json');
  });

  it('accepts application/json with a charset parameter', async () => {
    const res = await get('/fixtures/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ username: 'alice', code: 'x' }),
    });
    expect(res.status).toBe(200);
  });

  it('413: a body over MAX_BODY_BYTES', async () => {
    const res = await get('/fixtures/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', code: 'x'.repeat(2 * 1024 * 1024) }),
    });
    await expectErrorBody(res, 413, 'Request body too large');
  });

  it('401: a procedure that needs a signed-in user', async () => {
    await expectErrorBody(await get('/fixtures/authed'), 401, 'Authentication required');
    await expectErrorBody(await get('/fixtures/admin'), 401, 'Authentication required');
  });

  it('403: structured fields ride along', async () => {
    const body = await expectErrorBody(
      await get('/fixtures/timeout'),
      403,
      'Your account is temporarily restricted',
    );
    expect(body.reason).toBe('Spamming in chat');
    expect(body.expires_at).toBe('2026-03-12T20:15:29Z');
  });

  it('404: unknown routes and missing things', async () => {
    await expectErrorBody(await get('/no/such/route'), 404, 'Not found');
    await expectErrorBody(await get('/fixtures/things/7'), 404, 'User not found');
    await expectErrorBody(await get('/health', { method: 'DELETE' }), 404, 'Not found');
  });

  it('409: conflicts', async () => {
    await expectErrorBody(await get('/fixtures/conflict'), 409, 'Username is already taken');
  });

  it('500: internal errors never leak, and are logged with the correlation id', async () => {
    const res = await get('/fixtures/crash');
    const body = await expectErrorBody(res, 500, 'Internal server error');
    expect(JSON.stringify(body)).not.toContain('hunter2');
    expect(Object.keys(body).sort()).toEqual(['correlation_id', 'error', 'status']);
    const logged = logLines.filter((l) => l.correlation_id === body.correlation_id);
    expect(logged.some((l) => l.level === 50 && JSON.stringify(l.err).includes('hunter2'))).toBe(true);
    expect(logged.some((l) => l.msg === 'request' && l.status === 500 && l.path === '/fixtures/crash')).toBe(
      true,
    );
  });

  it('writes one request log line with the correlation id', async () => {
    const res = await get('/health');
    const id = res.headers.get('x-correlation-id');
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 20));
    const lines = logLines.filter((l) => l.correlation_id === id && l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'GET', path: '/health', status: 200 });
  });
});

describe('tRPC clients get the same error fields', () => {
  const client = () => createTRPCClient<FixtureRouter>({ links: [httpLink({ url: `${server.url}/trpc` })] });

  it('calls a procedure with types from the router', async () => {
    expect(await client().health.live.query()).toEqual({ status: 'ok' });
  });

  it('puts error, status and correlation_id in error.data', async () => {
    const err = await client()
      .fixtures.echo.mutate({ username: 'ab', code: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    const data = (err as TRPCClientError<FixtureRouter>).data as Record<string, unknown>;
    expect(data.error).toBe('username must be at least 3 characters');
    expect(data.status).toBe(400);
    expect(String(data.correlation_id)).toMatch(UUID);
    expect(data).not.toHaveProperty('stack');
  });

  it('hides internal errors from tRPC clients too', async () => {
    const err = (await client()
      .fixtures.crash.query()
      .catch((e: unknown) => e)) as TRPCClientError<FixtureRouter>;
    expect(err.message).toBe('Internal server error');
    expect(JSON.stringify(err.data)).not.toContain('hunter2');
    expect(JSON.stringify(err.shape)).not.toContain('hunter2');
  });
});
