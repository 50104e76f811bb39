import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSkipReason, startCluster } from '../helpers/cluster';
import { api, makeBot, makeUser, signIn } from '../helpers/identity';
import { startTestServer, type TestServer } from '../helpers/server';

// Credential lookups are cached in memory (services/auth/credential-cache.ts). These tests change
// the rows behind a cached credential with plain SQL, past every code path, and expect the very
// next request to see the change: the database triggers and LISTEN/NOTIFY carry it.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const exec = (statement: ReturnType<typeof sql>) => server.deps.database.query(statement);

async function signedIn() {
  const made = await makeUser(server);
  const token = await signIn(server, made.username, made.password);
  // Twice: the second answer comes from the cache.
  for (let i = 0; i < 2; i++) expect((await api(server, 'GET', '/users/me', { token })).status).toBe(200);
  return { ...made, token };
}

describe('the credential cache', () => {
  it('is active in a running server', () => {
    expect(server.deps.credentialCache.enabled).toBe(true);
  });

  it('serves a profile change made in the database at once', async () => {
    const me = await signedIn();
    await exec(sql`update users set nickname = 'Fresh Name' where id = ${me.user.id}`);
    expect((await api(server, 'GET', '/users/me', { token: me.token })).body.nickname).toBe('Fresh Name');
  });

  it('refuses a session deleted in the database on the next request', async () => {
    const me = await signedIn();
    await exec(sql`delete from sessions where user_id = ${me.user.id}`);
    const res = await api(server, 'GET', '/users/me', { token: me.token });
    expect(res.status).toBe(401);
  });

  it('refuses a user banned in the database on the next request', async () => {
    const me = await signedIn();
    await exec(sql`update users set state = 2, state_reason = 'spam' where id = ${me.user.id}`);
    const res = await api(server, 'GET', '/users/me', { token: me.token });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('Your account has been banned');
  });

  it('refuses a revoked API key at once, and a last-used write keeps it working', async () => {
    const me = await signedIn();
    const made = await api(server, 'POST', '/api/keys', { token: me.token, body: { name: 'cached' } });
    const key = String(made.body.api_key);
    for (let i = 0; i < 2; i++)
      expect((await api(server, 'GET', '/users/me', { token: key })).status).toBe(200);
    await exec(sql`update api_keys set last_used_at = now() where user_id = ${me.user.id}`);
    expect((await api(server, 'GET', '/users/me', { token: key })).status).toBe(200);
    await exec(sql`update api_keys set revoked_at = now() where user_id = ${me.user.id}`);
    expect((await api(server, 'GET', '/users/me', { token: key })).status).toBe(401);
  });

  it('refuses a bot key replaced in the database on the next request', async () => {
    const bot = await makeBot(server);
    const headers = { 'x-api-key': bot.apiKey };
    for (let i = 0; i < 2; i++) expect((await api(server, 'GET', '/bot/me', { headers })).status).toBe(200);
    await exec(sql`update bots set api_key_hash = 'replaced' where id = ${bot.bot.id}`);
    expect((await api(server, 'GET', '/bot/me', { headers })).status).toBe(401);
  });
});

describe('the credential cache in cluster mode', async () => {
  const skip = await clusterSkipReason();
  if (skip) console.log(`skipped: ${skip}`);
  it.skipIf(skip)('drops a session revoked on node A from node B at once', async () => {
    const cluster = await startCluster(2);
    try {
      const [a, b] = cluster.nodes as [TestServer, TestServer];
      const made = await makeUser(a);
      const token = await signIn(a, made.username, made.password);
      for (let i = 0; i < 2; i++) expect((await api(b, 'GET', '/users/me', { token })).status).toBe(200);
      const sessions = await api(a, 'GET', '/api/tokens', { token });
      const tokenId = (sessions.body.tokens as Array<{ token_id: string }>)[0]!.token_id;
      expect(
        (await api(a, 'POST', '/api/tokens/revoke', { token, body: { token_id: tokenId } })).status,
      ).toBe(200);
      // NOTIFY travels through PostgreSQL: give it the moment a client would never notice.
      let status = 0;
      for (let i = 0; i < 50 && status !== 401; i++) {
        status = (await api(b, 'GET', '/users/me', { token })).status;
        if (status !== 401) await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(401);
    } finally {
      await cluster.stop();
    }
  });
});
