import fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpAllTables } from '../helpers/database';
import { makeTempDir, removeDir } from '../helpers/env';
import { api, makeUser, signIn } from '../helpers/identity';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { newKeyPair, type SshTestServer, startSshServer } from '../helpers/ssh-server';

// Per-user VOD storage (seed 002 "VOD Storage") over real HTTP, tested against a real ssh2 SFTP
// server: configuration with sealed, redacted secrets, the connection test and its MKV count,
// merge rules, validation and the 404 of a user without storage.

const SSH_USER = 'vods';
const SSH_PASSWORD = 'vod-sftp-password-9f3';
const keys = newKeyPair();

let server: TestServer;
let ssh: SshTestServer;
let root: string;

beforeAll(async () => {
  server = await startTestServer({ env: { ...NO_REQUEST_LIMITS } });
  root = makeTempDir();
  fs.mkdirSync(join(root, 'vods', 'Show', '2026-02-08_04-24-49'), { recursive: true });
  fs.writeFileSync(join(root, 'vods', 'Show', '2026-02-08_04-24-49', 'chunk_000.mkv'), 'a');
  fs.writeFileSync(join(root, 'vods', 'Show', '2026-02-08_04-24-49', 'chunk_001.mkv'), 'bb');
  fs.writeFileSync(join(root, 'vods', 'notes.txt'), 'not a video');
  ssh = await startSshServer({ root, username: SSH_USER, password: SSH_PASSWORD, publicKey: keys.public });
});
afterAll(async () => {
  await ssh?.close();
  await server?.close();
  if (root) removeDir(root);
});

async function newUser() {
  const { username, password } = await makeUser(server);
  return signIn(server, username, password);
}

const storageBody = (extra: Record<string, unknown> = {}) => ({
  host: '127.0.0.1',
  port: ssh.port,
  username: SSH_USER,
  auth_method: 'password',
  password: SSH_PASSWORD,
  remote_path: '/vods',
  ...extra,
});

describe('VOD storage configuration', () => {
  it('is null before it is set, and every storage operation is 404 without it', async () => {
    const token = await newUser();
    expect((await api(server, 'GET', '/api/vod/storage', { token })).body).toEqual({ storage: null });
    for (const [method, path, body] of [
      ['GET', '/api/vod/files'],
      ['POST', '/api/vod/storage/test', {}],
      ['DELETE', '/api/vod/storage'],
      ['GET', '/api/vod/files/Show/2026-02-08_04-24-49/chunk_000.mkv'],
      ['DELETE', '/api/vod/files/Show/2026-02-08_04-24-49/chunk_000.mkv'],
      ['POST', '/api/vod/download-zip', { files: ['a.mkv'] }],
      ['GET', '/api/vod/sftp/list?path=/'],
      ['GET', '/api/vod/sftp/read?path=/notes.txt'],
      ['GET', '/api/vod/sftp/download?path=/notes.txt'],
      ['POST', '/api/vod/sftp/mkdir', { path: '/x' }],
    ] as const) {
      const res = await api(server, method, path, { token, ...(body && { body }) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error, `${method} ${path}`).toBe('VOD storage not configured');
      expect(res.body.correlation_id).toBeTruthy();
    }
  });

  it('stores the configuration with secrets sealed and answers it redacted', async () => {
    const token = await newUser();
    const put = await api(server, 'PUT', '/api/vod/storage', { token, body: storageBody() });
    expect(put.status).toBe(200);
    expect(put.body.storage).toMatchObject({
      host: '127.0.0.1',
      port: ssh.port,
      username: SSH_USER,
      auth_method: 'password',
      remote_path: '/vods',
      has_password: true,
      has_key: false,
    });
    expect(JSON.stringify(put.body)).not.toContain(SSH_PASSWORD);
    const get = await api(server, 'GET', '/api/vod/storage', { token });
    expect(get.body).toEqual(put.body);

    // Switch to a key: the password is kept (not sent), the key is stored sealed too.
    const withKey = await api(server, 'PUT', '/api/vod/storage', {
      token,
      body: { auth_method: 'key', private_key: keys.private },
    });
    expect(withKey.status).toBe(200);
    expect(withKey.body.storage).toMatchObject({ auth_method: 'key', has_password: true, has_key: true });

    const dump = await dumpAllTables(server.deps.database);
    expect(dump).toContain('vod_storage');
    expect(dump).not.toContain(SSH_PASSWORD);
    expect(dump).not.toContain(keys.private.split('\n')[1]);

    // A key login works: the test connects with it.
    const test = await api(server, 'POST', '/api/vod/storage/test', { token });
    expect(test.body).toMatchObject({ success: true, mkv_count: 2 });

    // null clears a secret; the password method then needs one again.
    const cleared = await api(server, 'PUT', '/api/vod/storage', {
      token,
      body: { auth_method: 'password', password: null },
    });
    expect(cleared.status).toBe(400);
    expect(cleared.body.error).toBe('password is required');

    expect((await api(server, 'DELETE', '/api/vod/storage', { token })).body).toEqual({ success: true });
    expect((await api(server, 'GET', '/api/vod/storage', { token })).body).toEqual({ storage: null });
    // Remote files stay.
    expect(fs.existsSync(join(root, 'vods', 'Show', '2026-02-08_04-24-49', 'chunk_000.mkv'))).toBe(true);
  });

  it('tests the connection: the MKV count, a wrong password, a missing directory, unsaved settings', async () => {
    const token = await newUser();
    await api(server, 'PUT', '/api/vod/storage', { token, body: storageBody() });
    const ok = await api(server, 'POST', '/api/vod/storage/test', { token });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ success: true, mkv_count: 2, message: 'Connected; found 2 MKV files' });
    // The fingerprint was trusted on first use.
    const view = await api(server, 'GET', '/api/vod/storage', { token });
    expect(view.body.storage).toMatchObject({ host_key_fingerprint: expect.stringMatching(/^SHA256:/) });

    const wrong = await api(server, 'POST', '/api/vod/storage/test', {
      token,
      body: { password: 'nope-nope' },
    });
    expect(wrong.body).toMatchObject({ success: false, mkv_count: null });
    expect(wrong.body.message).toMatch(/Authentication failed/);
    const missing = await api(server, 'POST', '/api/vod/storage/test', {
      token,
      body: { remote_path: '/no/such/dir' },
    });
    expect(missing.body).toMatchObject({ success: false, mkv_count: null });
    expect(missing.body.message).toMatch(/not a directory/);
    // Testing other settings saved nothing.
    expect((await api(server, 'GET', '/api/vod/storage', { token })).body).toEqual(view.body);

    // A user without storage may test settings before saving them.
    const other = await newUser();
    const unsaved = await api(server, 'POST', '/api/vod/storage/test', { token: other, body: storageBody() });
    expect(unsaved.body).toMatchObject({ success: true, mkv_count: 2 });
    expect((await api(server, 'GET', '/api/vod/storage', { token: other })).body).toEqual({ storage: null });
  });

  it('refuses bad input with the first invalid field named', async () => {
    const token = await newUser();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...storageBody(), host: undefined }, 'host is required'],
      [{ ...storageBody(), remote_path: undefined }, 'remote_path is required'],
      [storageBody({ port: 70000 }), 'port must be at most 65535'],
      [storageBody({ host: 'bad host!' }), 'host contains invalid characters'],
      [storageBody({ auth_method: 'token' }), 'auth_method must be one of password, key'],
      [storageBody({ auth_method: 'key' }), 'private_key is required'],
      [
        storageBody({ auth_method: 'key', private_key: 'not a key' }),
        'private_key is not a readable private key (or the passphrase is wrong)',
      ],
      [storageBody({ remote_path: 'a\u0000b' }), 'remote_path contains invalid characters'],
      [storageBody({ password: 'x'.repeat(1025) }), 'password must be at most 1024 characters'],
    ];
    for (const [body, error] of cases) {
      const res = await api(server, 'PUT', '/api/vod/storage', { token, body });
      expect(res.status, error).toBe(400);
      expect(res.body.error).toBe(error);
    }
    expect((await api(server, 'GET', '/api/vod/storage', { token })).body).toEqual({ storage: null });
    expect((await api(server, 'GET', '/api/vod/storage')).status).toBe(401);
  });

  it("never shows one user's storage to another", async () => {
    const owner = await newUser();
    const other = await newUser();
    await api(server, 'PUT', '/api/vod/storage', { token: owner, body: storageBody() });
    expect((await api(server, 'GET', '/api/vod/storage', { token: other })).body).toEqual({ storage: null });
    expect((await api(server, 'GET', '/api/vod/files', { token: other })).status).toBe(404);
  });
});
