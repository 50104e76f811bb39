import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitInOneMinuteWindow } from '../helpers/rate-window';
import { startTestServer, type TestServer } from '../helpers/server';

async function burst(url: string, count: number, init?: RequestInit) {
  const responses: Response[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    responses.push(res);
  }
  return responses;
}

const resets = (responses: Response[]) => new Set(responses.map((r) => r.headers.get('x-ratelimit-reset')));

describe('HEALTH tier: 1200 requests a minute per IP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it('answers the 1201st /health in a minute with 429, Retry-After and the error body', async () => {
    await fitInOneMinuteWindow(20_000);
    const responses = await burst(`${server.url}/health`, 1200);
    const extra = await fetch(`${server.url}/health`);
    expect(resets([...responses, extra]).size).toBe(1);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(responses.at(-1)!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(extra.status).toBe(429);
    const retryAfter = Number(extra.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(extra.headers.get('x-ratelimit-limit')).toBe('1200');
    expect(extra.headers.get('x-ratelimit-remaining')).toBe('0');
    const body = (await extra.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'Too many requests', status: 429 });
    expect(body.correlation_id).toBe(extra.headers.get('x-correlation-id'));
    // Another tier keeps its own budget.
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
  });
});

describe('limits are configuration', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { RATE_LIMIT_HEALTH: '3', TRUST_PROXY: '1' } });
  });
  afterAll(() => server?.close());

  it('counts per client IP, honouring X-Forwarded-For only behind a trusted proxy', async () => {
    await fitInOneMinuteWindow(5_000);
    const a = await burst(`${server.url}/health`, 4, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    const b = await burst(`${server.url}/health`, 3, { headers: { 'x-forwarded-for': '203.0.113.8' } });
    expect(a.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(b.map((r) => r.status)).toEqual([200, 200, 200]);
  });
});

describe('without TRUST_PROXY', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { RATE_LIMIT_HEALTH: '2' } });
  });
  afterAll(() => server?.close());

  it('ignores a spoofed X-Forwarded-For', async () => {
    await fitInOneMinuteWindow(5_000);
    const statuses: number[] = [];
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      const [res] = await burst(`${server.url}/health`, 1, { headers: { 'x-forwarded-for': ip } });
      statuses.push(res!.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });
});
