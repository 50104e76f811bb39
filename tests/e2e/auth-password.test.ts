import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys, registrations, sessions, users } from '../../src/db/schema';
import { inviteCodeFor } from '../../src/services/auth/invite-code';
import { currentTotp } from '../../src/services/auth/totp';
import { api, makeUser, signIn, uniqueName } from '../helpers/identity';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// Password sign-in, registration, sessions, tokens, API keys and TOTP over real HTTP (API.md §1).

let server: TestServer;
const generous = NO_REQUEST_LIMITS;

beforeAll(async () => {
  server = await startTestServer({ env: generous });
});
afterAll(() => server?.close());

const db = () => server.deps.database.db;

describe('POST /api/token', () => {
  it('returns a JWT, the user and a session cookie', async () => {
    const { username, password, user } = await makeUser(server);
    const res = await api(server, 'POST', '/api/token', { body: { username, password } });
    expect(res.status).toBe(200);
    expect(res.body.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(res.body.user).toEqual({ id: user.id, username, is_admin: false });
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^portal_session=[\w-]+;/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    // Users get 30-day sessions, fixed from sign-in.
    const ttlDays = (Date.parse(String(res.body.expires_at)) - Date.now()) / 86_400_000;
    expect(ttlDays).toBeGreaterThan(29.9);
    expect(ttlDays).toBeLessThanOrEqual(30);
    const me = await api(server, 'GET', '/api/tokens', { token: String(res.body.token) });
    expect(me.status).toBe(200);
  });

  it('gives Admins a 1-day session', async () => {
    const { username, password } = await makeUser(server, { level: 2 });
    const res = await api(server, 'POST', '/api/token', { body: { username, password } });
    const ttlHours = (Date.parse(String(res.body.expires_at)) - Date.now()) / 3_600_000;
    expect(ttlHours).toBeGreaterThan(23.9);
    expect(ttlHours).toBeLessThanOrEqual(24);
    expect((res.body.user as { is_admin: boolean }).is_admin).toBe(true);
  });

  it('answers a wrong password exactly like an unknown user', async () => {
    const { username } = await makeUser(server);
    const wrong = await api(server, 'POST', '/api/token', {
      body: { username, password: 'not the password' },
    });
    const unknown = await api(server, 'POST', '/api/token', {
      body: { username: 'nobody_here', password: 'whatever1' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error).toBe('Invalid username or password');
    expect(unknown.body.error).toBe(wrong.body.error);
    expect(Object.keys(wrong.body).sort()).toEqual(Object.keys(unknown.body).sort());
  });

  it('refuses banned users with the structured 403 and ends their sessions', async () => {
    const { username, password, user } = await makeUser(server);
    const token = await signIn(server, username, password);
    await db()
      .update(users)
      .set({ state: 2, stateReason: 'Terms of service violation' })
      .where(eq(users.id, user.id));
    const again = await api(server, 'POST', '/api/token', { body: { username, password } });
    expect(again.status).toBe(403);
    expect(again.body).toMatchObject({
      error: 'Your account has been banned',
      reason: 'Terms of service violation',
    });
    const withOld = await api(server, 'GET', '/api/tokens', { token });
    expect(withOld.status).toBe(401);
    expect(await db().$count(sessions, eq(sessions.userId, user.id))).toBe(0);
  });

  it('refuses a timed-out user on state-changing requests only, with expires_at', async () => {
    const { username, password, user } = await makeUser(server);
    const token = await signIn(server, username, password);
    const until = new Date(Date.now() + 3_600_000);
    await db()
      .update(users)
      .set({ state: 1, stateReason: 'Spamming in chat', stateExpiresAt: until })
      .where(eq(users.id, user.id));
    const write = await api(server, 'POST', '/api/keys', { token, body: { name: 'k' } });
    expect(write.status).toBe(403);
    expect(write.body).toMatchObject({
      error: 'Your account is temporarily restricted',
      reason: 'Spamming in chat',
      expires_at: until.toISOString(),
    });
    expect((await api(server, 'GET', '/api/keys', { token })).status).toBe(200);
    // Managing one's own sessions stays allowed.
    await signIn(server, username, password);
    const tokens = await api(server, 'GET', '/api/tokens', { token });
    const otherId = (tokens.body.tokens as Array<{ token_id: string; current: boolean }>).find(
      (t) => !t.current,
    )!;
    expect(
      (await api(server, 'POST', '/api/tokens/revoke', { token, body: { token_id: otherId.token_id } }))
        .status,
    ).toBe(200);
    // An expired timeout no longer restricts.
    await db()
      .update(users)
      .set({ stateExpiresAt: new Date(Date.now() - 1000) })
      .where(eq(users.id, user.id));
    expect((await api(server, 'POST', '/api/keys', { token, body: { name: 'k' } })).status).toBe(200);
  });

  it('validates input with the contract texts', async () => {
    const res = await api(server, 'POST', '/api/token', { body: { password: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('username is required');
  });
});

describe('sessions and tokens', () => {
  it('revokes a JWT immediately through /api/tokens/revoke', async () => {
    const { username, password } = await makeUser(server);
    const a = await signIn(server, username, password);
    const b = await signIn(server, username, password);
    const list = await api(server, 'GET', '/api/tokens', { token: a });
    const tokens = list.body.tokens as Array<{ token_id: string; current: boolean }>;
    expect(tokens).toHaveLength(2);
    const target = tokens.find((t) => !t.current)!;
    expect(
      (await api(server, 'POST', '/api/tokens/revoke', { token: a, body: { token_id: target.token_id } }))
        .status,
    ).toBe(200);
    const after = await api(server, 'GET', '/api/tokens', { token: b });
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('Invalid or expired token');
    expect(
      (await api(server, 'POST', '/api/tokens/revoke', { token: a, body: { token_id: 'nope' } })).status,
    ).toBe(404);
  });

  it('destroys a session by its 6-character token suffix', async () => {
    const { username, password } = await makeUser(server);
    const jwt = await signIn(server, username, password);
    // The cookie token of a second sign-in is the opaque session token.
    const second = await api(server, 'POST', '/api/token', { body: { username, password } });
    const cookieToken = second.headers.get('set-cookie')!.match(/portal_session=([\w-]+)/)![1]!;
    expect((await api(server, 'GET', '/api/keys', { token: cookieToken })).status).toBe(200);
    const list = await api(server, 'GET', '/users/me/sessions', { token: jwt });
    const suffixes = (list.body.sessions as Array<{ token_suffix: string }>).map((s) => s.token_suffix);
    expect(suffixes).toContain(cookieToken.slice(-6));
    const destroyed = await api(server, 'POST', `/users/me/sessions/${cookieToken.slice(-6)}/destroy`, {
      token: jwt,
    });
    expect(destroyed.status).toBe(200);
    expect((await api(server, 'GET', '/api/keys', { token: cookieToken })).status).toBe(401);
    expect((await api(server, 'POST', '/users/me/sessions/zzzzzz/destroy', { token: jwt })).status).toBe(404);
    expect((await api(server, 'POST', '/users/me/sessions/short/destroy', { token: jwt })).body.error).toBe(
      'token_suffix must be at least 6 characters',
    );
  });

  it('accepts the cookie for reads and refuses cross-site writes', async () => {
    const { username, password } = await makeUser(server);
    const res = await api(server, 'POST', '/api/token', { body: { username, password } });
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    expect((await api(server, 'GET', '/api/keys', { headers: { cookie } })).status).toBe(200);
    const noOrigin = await api(server, 'POST', '/api/keys', { headers: { cookie }, body: { name: 'x' } });
    expect(noOrigin.status).toBe(403);
    expect(noOrigin.body.error).toBe('Cross-site request refused');
    const evil = await api(server, 'POST', '/api/keys', {
      headers: { cookie, origin: 'https://evil.example' },
      body: { name: 'x' },
    });
    expect(evil.status).toBe(403);
    const same = await api(server, 'POST', '/api/keys', {
      headers: { cookie, origin: server.url },
      body: { name: 'x' },
    });
    expect(same.status).toBe(200);
  });

  it('changes the password and ends the other sessions', async () => {
    const { username, password } = await makeUser(server);
    const keep = await signIn(server, username, password);
    const other = await signIn(server, username, password);
    const wrong = await api(server, 'PUT', '/api/me/password', {
      token: keep,
      body: { current_password: 'nope nope', new_password: 'new password 1' },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toBe('Current password is incorrect');
    const short = await api(server, 'PUT', '/api/me/password', {
      token: keep,
      body: { current_password: password, new_password: 'short' },
    });
    expect(short.body.error).toBe('new_password must be at least 8 characters');
    const ok = await api(server, 'PUT', '/api/me/password', {
      token: keep,
      body: { current_password: password, new_password: 'new password 1' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.ended_sessions).toBe(1);
    expect((await api(server, 'GET', '/api/keys', { token: keep })).status).toBe(200);
    expect((await api(server, 'GET', '/api/keys', { token: other })).status).toBe(401);
    expect((await api(server, 'POST', '/api/token', { body: { username, password } })).status).toBe(401);
    await signIn(server, username, 'new password 1');
  });

  it('needs credentials', async () => {
    const res = await api(server, 'GET', '/api/tokens');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('Authentication required');
    const bad = await api(server, 'GET', '/api/tokens', { token: 'not-a-real-token' });
    expect(bad.status).toBe(401);
  });
});

describe('POST /api/register', () => {
  it('validates, needs today’s invite code, and allows one account per IP per 24 h', async () => {
    const invite = inviteCodeFor(server.deps.secretKey);
    const post = (body: object) => api(server, 'POST', '/api/register', { body });
    expect((await post({ username: 'ab', password: 'long enough', invite_code: invite })).body.error).toBe(
      'username must be at least 3 characters',
    );
    expect(
      (await post({ username: 'bad name!', password: 'long enough', invite_code: invite })).body.error,
    ).toBe('username contains invalid characters');
    expect((await post({ username: 'fine_name', password: 'short', invite_code: invite })).body.error).toBe(
      'password must be at least 8 characters',
    );
    const wrongInvite = await post({ username: 'fine_name', password: 'long enough', invite_code: 'WRONG' });
    expect(wrongInvite.status).toBe(403);
    expect(wrongInvite.body.error).toBe('Invalid invite code');

    const { username: taken } = await makeUser(server);
    const dup = await post({ username: taken.toUpperCase(), password: 'long enough', invite_code: invite });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toBe('Username is already taken');

    await db().delete(registrations);
    const name = uniqueName('reg');
    const ok = await post({ username: name, password: 'long enough', invite_code: invite.toLowerCase() });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ id: expect.any(Number), username: name, message: 'Registration successful' });
    await signIn(server, name, 'long enough');
    const second = await post({ username: uniqueName('reg'), password: 'long enough', invite_code: invite });
    expect(second.status).toBe(429);
    expect(second.body.error).toBe('Only one account may be registered per address every 24 hours');
  });
});

describe('API keys', () => {
  it('shows the key once, lists prefixes only, revokes and deletes', async () => {
    const { username, password } = await makeUser(server);
    const token = await signIn(server, username, password);
    const created = await api(server, 'POST', '/api/keys', { token, body: { name: 'My Integration' } });
    expect(created.status).toBe(200);
    const key = String(created.body.api_key);
    expect(key).toMatch(/^portal_/);
    expect(created.body).toMatchObject({
      name: 'My Integration',
      scopes: '*',
      expires_at: null,
      key_prefix: key.slice(0, 10),
    });

    const list = await api(server, 'GET', '/api/keys', { token });
    expect(JSON.stringify(list.body)).not.toContain(key);
    expect((list.body.keys as Array<{ key_prefix: string }>)[0]!.key_prefix).toBe(key.slice(0, 10));

    expect((await api(server, 'GET', '/api/tokens', { token: key })).status).toBe(200);
    const viaQuery = await fetch(`${server.url}/api/keys?token=${key}`);
    expect(viaQuery.status).toBe(200);

    const revoked = await api(server, 'POST', `/api/keys/${created.body.id}/revoke`, { token });
    expect(revoked.body.revoked).toBe(true);
    const refused = await api(server, 'GET', '/api/tokens', { token: key });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('Invalid or expired API key');
    expect((await api(server, 'GET', '/api/keys', { token })).body.keys).toHaveLength(1);

    expect((await api(server, 'DELETE', `/api/keys/${created.body.id}`, { token })).status).toBe(200);
    expect((await api(server, 'GET', '/api/keys', { token })).body.keys).toHaveLength(0);
    expect((await api(server, 'DELETE', `/api/keys/${created.body.id}`, { token })).status).toBe(404);
  });

  it('enforces scopes, expiry and ownership', async () => {
    const { username, password } = await makeUser(server);
    const token = await signIn(server, username, password);
    const readOnly = await api(server, 'POST', '/api/keys', {
      token,
      body: { name: 'ro', scopes: 'keys:read' },
    });
    const ro = String(readOnly.body.api_key);
    expect((await api(server, 'GET', '/api/keys', { token: ro })).status).toBe(200);
    const write = await api(server, 'POST', '/api/keys', { token: ro, body: { name: 'x' } });
    expect(write.status).toBe(403);
    expect(write.body.error).toBe('Access denied');
    expect((await api(server, 'GET', '/api/tokens', { token: ro })).status).toBe(403);
    expect(
      (await api(server, 'POST', '/api/keys', { token, body: { name: 'x', scopes: 'users;drop' } })).body
        .error,
    ).toBe('scopes contains invalid characters');
    expect(
      (await api(server, 'POST', '/api/keys', { token, body: { name: 'x'.repeat(51) } })).body.error,
    ).toBe('name must be at most 50 characters');

    const expiring = await api(server, 'POST', '/api/keys', {
      token,
      body: { name: 'exp', expires_in_days: 1 },
    });
    await db()
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, Number(expiring.body.id)));
    expect((await api(server, 'GET', '/api/keys', { token: String(expiring.body.api_key) })).status).toBe(
      401,
    );

    const stranger = await makeUser(server);
    const strangerToken = await signIn(server, stranger.username, stranger.password);
    expect(
      (await api(server, 'DELETE', `/api/keys/${readOnly.body.id}`, { token: strangerToken })).status,
    ).toBe(404);
  });
});

describe('TOTP two-factor authentication', () => {
  it('sets up, enables, is required at sign-in, accepts a backup code once, and disables', async () => {
    const { username, password } = await makeUser(server);
    const token = await signIn(server, username, password);
    expect((await api(server, 'GET', '/api/2fa/status', { token })).body).toEqual({
      enabled: false,
      backup_codes_remaining: 0,
    });
    const setup = await api(server, 'POST', '/api/2fa/setup', { token });
    const secret = String(setup.body.secret);
    expect(String(setup.body.provisioning_uri)).toMatch(/^otpauth:\/\/totp\/Portal:/);
    expect(
      (await api(server, 'POST', '/api/2fa/enable', { token, body: { code: '000000' } })).body.error,
    ).toBe('Invalid two-factor code');
    const enablingCode = currentTotp(secret);
    const enabled = await api(server, 'POST', '/api/2fa/enable', {
      token,
      body: { code: enablingCode },
    });
    expect(enabled.status).toBe(200);
    const backups = enabled.body.backup_codes as string[];
    expect(backups).toHaveLength(10);
    expect((await api(server, 'GET', '/api/2fa/status', { token })).body).toEqual({
      enabled: true,
      backup_codes_remaining: 10,
    });
    expect((await api(server, 'POST', '/api/2fa/setup', { token })).status).toBe(409);

    const without = await api(server, 'POST', '/api/token', { body: { username, password } });
    expect(without.status).toBe(401);
    expect(without.body.error).toBe('Two-factor code required');
    const wrong = await api(server, 'POST', '/api/token', {
      body: { username, password, totp_code: '123456' },
    });
    expect(wrong.body.error).toBe('Invalid two-factor code');
    // The code that enabled 2FA was spent: the same code cannot sign in (replay). The very same
    // string, not a fresh one: a 30 s step may have passed on a loaded machine.
    const replay = await api(server, 'POST', '/api/token', {
      body: { username, password, totp_code: enablingCode },
    });
    expect(replay.status).toBe(401);
    const withBackup = await api(server, 'POST', '/api/token', {
      body: { username, password, totp_code: backups[0] },
    });
    expect(withBackup.status).toBe(200);
    const backupAgain = await api(server, 'POST', '/api/token', {
      body: { username, password, totp_code: backups[0] },
    });
    expect(backupAgain.status).toBe(401);
    expect((await api(server, 'GET', '/api/2fa/status', { token })).body.backup_codes_remaining).toBe(9);

    expect((await api(server, 'POST', '/api/2fa/disable', { token, body: { code: '999999' } })).status).toBe(
      400,
    );
    const disabled = await api(server, 'POST', '/api/2fa/disable', { token, body: { code: backups[1] } });
    expect(disabled.body).toEqual({ enabled: false });
    await signIn(server, username, password);
  });
});
