import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp } from '../../src/services/auth/totp';
import { dumpAllTables } from '../helpers/database';
import { api, makeBot, makeUser, signIn } from '../helpers/identity';
import { startTestServer, type TestServer } from '../helpers/server';

// No secret (password, token, code, key, TOTP secret) is stored in plaintext: exercise every
// credential through the API, then dump every table and search the dump for each secret.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: { RATE_LIMIT_LOGIN: '100000', RATE_LIMIT_AUTH: '100000', RATE_LIMIT_BOT: '100000' },
  });
});
afterAll(() => server?.close());

describe('secrets at rest', () => {
  it('stores no password, token, key, code or TOTP secret in plaintext', async () => {
    const secrets: Record<string, string> = {};
    const { username, password } = await makeUser(server, { password: 'plaintext-password-91' });
    secrets.password = password;

    const signInRes = await api(server, 'POST', '/api/token', { body: { username, password } });
    secrets.jwt = String(signInRes.body.token);
    secrets.sessionToken = signInRes.headers.get('set-cookie')!.match(/portal_session=([\w-]+)/)![1]!;
    const token = secrets.jwt;

    const key = await api(server, 'POST', '/api/keys', { token, body: { name: 'dump test' } });
    secrets.apiKey = String(key.body.api_key);

    const setup = await api(server, 'POST', '/api/2fa/setup', { token });
    secrets.totpSecret = String(setup.body.secret);
    const enabled = await api(server, 'POST', '/api/2fa/enable', {
      token,
      body: { code: currentTotp(secrets.totpSecret) },
    });
    const backups = enabled.body.backup_codes as string[];
    backups.forEach((code, i) => {
      secrets[`backup${i}`] = code;
    });

    const { apiKey: botKey } = await makeBot(server);
    secrets.botKey = botKey;

    // A one-time login code while it waits for a bot to deliver it.
    const other = await makeUser(server);
    const link = await api(server, 'POST', '/bot/users', {
      headers: { 'x-api-key': botKey },
      body: { platform_user_id: 'discord-42', username: other.username },
    });
    expect(link.status).toBe(409);
    const linked = await api(server, 'POST', '/bot/users', {
      headers: { 'x-api-key': botKey },
      body: { platform_user_id: 'discord-43', username: `${other.username}_b` },
    });
    expect(linked.status).toBe(200);
    const requested = await api(server, 'POST', '/auth/request', {
      body: { username: `${other.username}_b` },
    });
    expect(requested.status).toBe(200);
    const codes = await api(server, 'GET', '/bot/login-codes', { headers: { 'x-api-key': botKey } });
    const code = (codes.body.codes as Array<{ request_id: string; code: string }>).find(
      (c) => c.request_id === requested.body.request_id,
    )!;
    secrets.loginCode = code.code;

    // Every credential was used once more, so nothing is only in memory.
    expect((await api(server, 'GET', '/api/keys', { token: secrets.apiKey })).status).toBe(200);
    expect((await api(server, 'GET', '/api/keys', { token: secrets.sessionToken })).status).toBe(200);
    await signIn(server, username, password, backups[0]);

    const dump = await dumpAllTables(server.deps.database);
    expect(dump.length).toBeGreaterThan(1000);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length, name).toBeGreaterThanOrEqual(6);
      // Six digits can occur by chance inside a hash, so the code is searched as a stored value.
      const needle = name === 'loginCode' ? `"${secret}"` : secret;
      expect(dump.includes(needle), `${name} appears in the database`).toBe(false);
    }
    // The password hash is scrypt, the TOTP secret sealed with AES-256-GCM.
    expect(dump).toMatch(/scrypt\$32768\$8\$1\$/);
    expect(dump).toMatch(/"v1\.[0-9a-f]{8}\./);
  });
});
