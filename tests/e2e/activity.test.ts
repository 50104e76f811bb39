import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, makeUser, signIn } from '../helpers/identity';
import { ISO, ok, refused } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// GET /api/activity (seed 002 "Activity Feed"): what users did, newest first; Admins see everyone's,
// users their own; `limit` 1–50, default 20.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: NO_REQUEST_LIMITS });
});
afterAll(() => server?.close());

type Activity = {
  id: number;
  user_id: number;
  username: string;
  action: string;
  details: string;
  created_at: string;
};
const feed = async (token: string, query = '') =>
  (await ok(api(server, 'GET', `/api/activity${query}`, { token }))).activities as Activity[];

let seq = 0;

describe('GET /api/activity', () => {
  it("records a user's actions and shows them to that user only", async () => {
    const alice = await makeUser(server);
    const bob = await makeUser(server);
    const aliceToken = await signIn(server, alice.username, alice.password);
    const bobToken = await signIn(server, bob.username, bob.password);
    await ok(api(server, 'POST', '/api/keys', { token: aliceToken, body: { name: 'deploy' } }));
    await ok(
      api(server, 'POST', '/api/chat/channels', {
        token: aliceToken,
        body: { name: `act-${process.pid}-${++seq}`, visibility: 'private' },
      }),
    );

    const mine = await feed(aliceToken);
    expect(mine.map((a) => a.action)).toEqual([
      'channel_created',
      'api_key_created',
      'signed_in',
      'registered',
    ]);
    expect(mine[1]).toMatchObject({
      user_id: alice.user.id,
      username: alice.username,
      details: 'Created API key "deploy"',
    });
    expect(mine[2]?.details).toBe('Signed in (password)');
    expect(mine.every((a) => ISO.test(a.created_at))).toBe(true);
    expect((await feed(bobToken)).every((a) => a.user_id === bob.user.id)).toBe(true);

    await ok(api(server, 'POST', '/auth/logout', { token: bobToken }));
    const bobAgain = await signIn(server, bob.username, bob.password);
    expect((await feed(bobAgain)).map((a) => a.action)).toEqual([
      'signed_in',
      'signed_out',
      'signed_in',
      'registered',
    ]);
  });

  it('shows Admins everyone, newest first, `limit` at a time', async () => {
    const admin = await makeUser(server, { level: 2 });
    const token = await signIn(server, admin.username, admin.password);
    for (let i = 0; i < 15; i++) await makeUser(server);
    const all = await feed(token, '?limit=50');
    expect(new Set(all.map((a) => a.user_id)).size).toBeGreaterThan(3);
    const ids = all.map((a) => a.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(all.length).toBeGreaterThan(20);
    expect(await feed(token)).toEqual(all.slice(0, 20));
    expect(await feed(token, '?limit=2')).toEqual(all.slice(0, 2));
  });

  it('refuses bad limits and anonymous callers', async () => {
    const user = await makeUser(server);
    const token = await signIn(server, user.username, user.password);
    await refused(api(server, 'GET', '/api/activity?limit=0', { token }), 400, 'limit must be at least 1');
    await refused(api(server, 'GET', '/api/activity?limit=51', { token }), 400, 'limit must be at most 50');
    await refused(api(server, 'GET', '/api/activity?limit=lots', { token }), 400, 'limit must be a number');
    await refused(api(server, 'GET', '/api/activity'), 401, 'Authentication required');
  });
});
