import { createBot } from '../../src/services/bots/bots';
import { createUser } from '../../src/services/users/accounts';
import type { TestServer } from './server';

// Setup shortcuts: accounts and bots are created through the services (as the admin CLI does);
// everything a test asserts on goes through HTTP.

let counter = 0;
export const uniqueName = (prefix = 'user') => `${prefix}_${process.pid}_${++counter}`;

export async function makeUser(
  server: TestServer,
  opts: { username?: string; password?: string; level?: number } = {},
) {
  const username = opts.username ?? uniqueName();
  const password = opts.password ?? 'correct horse battery';
  const user = await createUser(server.deps.database.db, { username, password, level: opts.level ?? 0 });
  return { user, username, password };
}

export async function makeBot(server: TestServer, opts: { name?: string; rateLimitPerHour?: number } = {}) {
  return createBot(server.deps.database.db, { name: opts.name ?? uniqueName('bot'), ...opts });
}

/** POST /api/token and return the Bearer token. */
export async function signIn(server: TestServer, username: string, password: string, totp_code?: string) {
  const res = await fetch(`${server.url}/api/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, ...(totp_code && { totp_code }) }),
  });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export async function api(
  server: Pick<TestServer, 'url'>,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(opts.body !== undefined && { 'content-type': 'application/json' }),
      ...(opts.token && { authorization: `Bearer ${opts.token}` }),
      ...opts.headers,
    },
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (text endpoints).
  }
  return { status: res.status, body: body as Record<string, unknown>, headers: res.headers };
}
