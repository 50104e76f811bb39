import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '../helpers/env';
import { api, makeUser, signIn } from '../helpers/identity';
import { startTestServer, type TestServer } from '../helpers/server';
import { newKeyPair, type SshTestServer, startSshServer } from '../helpers/ssh-server';

// The SFTP browser of API.md §6 over real HTTP against a real ssh2 server whose SFTP subsystem is
// a temporary directory: list/read/write/mkdir/rename/delete, path rules, size cap, error mapping.

const SSH_USER = 'tester';
const SSH_PASSWORD = 'ssh-secret';

let server: TestServer;
let ssh: SshTestServer;
let root: string;
let token: string;
let connId: string;
const keys = newKeyPair();

beforeAll(async () => {
  server = await startTestServer({
    // Room for the 6 MB round trip below, not for the 9 MB upload that must be refused.
    env: { RATE_LIMIT_LOGIN: '100000', RATE_LIMIT_AUTH: '100000', SFTP_UPLOAD_MAX_BYTES: '8000000' },
  });
  root = makeTempDir();
  fs.mkdirSync(join(root, 'docs'));
  fs.writeFileSync(join(root, 'docs', 'readme.txt'), 'hello sftp\n');
  fs.writeFileSync(join(root, 'blob.bin'), Buffer.from([0, 1, 2, 255, 254]));
  fs.mkdirSync(join(root, 'locked'));
  ssh = await startSshServer({
    root,
    username: SSH_USER,
    password: SSH_PASSWORD,
    publicKey: keys.public,
    denied: ['/locked'],
  });
  token = await newUser();
  connId = await createSsh(token, { auth_method: 'key', private_key: keys.private });
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

async function createSsh(t: string, config: Record<string, unknown>) {
  const res = await api(server, 'POST', '/api/connections', {
    token: t,
    body: {
      name: 'files',
      type: 'ssh',
      host: '127.0.0.1',
      port: ssh.port,
      config: { username: SSH_USER, ...config },
    },
  });
  expect(res.status).toBe(200);
  return res.body.id as string;
}

const q = (path: string) => `?path=${encodeURIComponent(path)}`;
const get = (op: string, path: string, t = token, id = connId) =>
  api(server, 'GET', `/api/sftp/${id}/${op}${q(path)}`, { token: t });
const post = (op: string, body: unknown, t = token) =>
  api(server, 'POST', `/api/sftp/${connId}/${op}`, { token: t, body });

type Entry = { name: string; type: string; size: number; modified: string; permissions: string };

describe('sftp browser', () => {
  it('lists a directory: directories first, with type, size, ISO mtime and permissions', async () => {
    const res = await get('list', '/');
    expect(res.status).toBe(200);
    expect(res.body.path).toBe('/');
    const entries = res.body.entries as Entry[];
    expect(entries.map((e) => e.name)).toEqual(['docs', 'locked', 'blob.bin']);
    expect(entries[0]).toMatchObject({ type: 'directory' });
    const blob = entries.find((e) => e.name === 'blob.bin')!;
    expect(blob).toMatchObject({ type: 'file', size: 5 });
    expect(blob.permissions).toMatch(/^0[0-7]{3}$/);
    expect(new Date(blob.modified).toISOString()).toBe(blob.modified);

    const docs = await get('list', '/docs/');
    expect(docs.body).toMatchObject({
      path: '/docs',
      entries: [{ name: 'readme.txt', type: 'file', size: 11 }],
    });
  });

  it('reads text as utf8 and binary as base64', async () => {
    const text = await get('read', '/docs/readme.txt');
    expect(text.status).toBe(200);
    expect(text.body).toEqual({
      path: '/docs/readme.txt',
      content: 'hello sftp\n',
      size: 11,
      encoding: 'utf8',
    });
    const bin = await get('read', '/blob.bin');
    expect(bin.body).toMatchObject({ encoding: 'base64', size: 5 });
    expect(Buffer.from(bin.body.content as string, 'base64')).toEqual(Buffer.from([0, 1, 2, 255, 254]));
  });

  it('writes, creates directories, renames and deletes', async () => {
    expect((await post('mkdir', { path: '/work' })).body).toEqual({ success: true });
    expect(fs.statSync(join(root, 'work')).isDirectory()).toBe(true);

    expect((await post('write', { path: '/work/notes.md', content: '# notes ✓' })).body).toEqual({
      success: true,
    });
    expect(fs.readFileSync(join(root, 'work', 'notes.md'), 'utf8')).toBe('# notes ✓');
    // Overwrite truncates.
    await post('write', { path: '/work/notes.md', content: 'short' });
    expect((await get('read', '/work/notes.md')).body.content).toBe('short');
    await post('write', {
      path: '/work/raw.bin',
      content: Buffer.from([9, 0, 9]).toString('base64'),
      encoding: 'base64',
    });
    expect(fs.readFileSync(join(root, 'work', 'raw.bin'))).toEqual(Buffer.from([9, 0, 9]));

    expect((await post('rename', { old_path: '/work/notes.md', new_path: '/work/renamed.md' })).body).toEqual(
      { success: true },
    );
    expect(fs.existsSync(join(root, 'work', 'renamed.md'))).toBe(true);
    const clash = await post('rename', { old_path: '/work/renamed.md', new_path: '/work/raw.bin' });
    expect(clash.status).toBe(409);

    const notEmpty = await api(server, 'DELETE', `/api/sftp/${connId}/delete${q('/work')}`, { token });
    expect(notEmpty.status).toBe(409);
    for (const p of ['/work/renamed.md', '/work/raw.bin', '/work']) {
      const res = await api(server, 'DELETE', `/api/sftp/${connId}/delete${q(p)}`, { token });
      expect(res.status, p).toBe(200);
    }
    expect(fs.existsSync(join(root, 'work'))).toBe(false);
  });

  it('rejects NUL bytes and relative paths climbing out with 400 "Invalid path"', async () => {
    for (const p of ['../etc/passwd', 'docs/../../etc', '..', 'docs/\0x']) {
      const res = await get('read', p);
      expect(res.status, p).toBe(400);
      expect(res.body.error).toBe('Invalid path');
    }
    const write = await post('write', { path: '../escape.txt', content: 'x' });
    expect(write.status).toBe(400);
    // Absolute paths are normalized before use.
    const normalized = await get('read', '/docs/../docs/./readme.txt');
    expect(normalized.body.path).toBe('/docs/readme.txt');
  });

  it('refuses reads over 5 MB with 413', async () => {
    fs.writeFileSync(join(root, 'big.log'), Buffer.alloc(5 * 1024 * 1024 + 1, 'a'));
    const res = await get('read', '/big.log');
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('File is larger than 5 MB');
    fs.rmSync(join(root, 'big.log'));
  });

  it('maps missing paths to 404 and permission errors to 403', async () => {
    for (const [op, p] of [
      ['read', '/nope.txt'],
      ['list', '/nope'],
    ] as const) {
      const res = await get(op, p);
      expect(res.status, `${op} ${p}`).toBe(404);
      expect(res.body.error).toBe('Path not found');
    }
    const del = await api(server, 'DELETE', `/api/sftp/${connId}/delete${q('/nope')}`, { token });
    expect(del.status).toBe(404);
    const denied = await get('list', '/locked');
    expect(denied.status).toBe(403);
    expect(denied.body.error).toBe('Permission denied on the remote host');
  });

  it("returns 404 for another user's connection and 400 for a non-SSH one", async () => {
    const other = await newUser();
    const res = await get('list', '/', other);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('Connection not found');
    const web = await api(server, 'POST', '/api/connections', {
      token,
      body: { name: 'w', type: 'http', host: '127.0.0.1', port: 80 },
    });
    expect((await get('list', '/', token, web.body.id as string)).status).toBe(400);
  });

  it('reports SSH authentication failures clearly', async () => {
    const id = await createSsh(token, { password: 'wrong' });
    const res = await get('list', '/', token, id);
    expect(res.status).toBe(503);
    expect(res.body.error).toBe(`Authentication failed for ${SSH_USER}@127.0.0.1`);
  });

  it('closes the SSH session after each request', async () => {
    await get('list', '/');
    const deadline = Date.now() + 5000;
    while (ssh.openClients() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(ssh.openClients()).toBe(0);
  });
});

describe('sftp streamed transfers', () => {
  const base = () => `${server.url}/api/sftp/${connId}`;
  const auth = (t = token) => ({ authorization: `Bearer ${t}` });
  const form = (dir: string | undefined, file: Buffer | undefined, name = 'big.bin') => {
    const fd = new FormData();
    if (dir !== undefined) fd.append('path', dir);
    if (file) fd.append('file', new Blob([file]), name);
    return fd;
  };
  const upload = (body: FormData, t = token) =>
    fetch(`${base()}/upload`, { method: 'POST', headers: auth(t), body });

  it('uploads a multi-MB file to a directory and downloads it back, streamed', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 123);
    const up = await upload(form('/docs', data));
    expect(up.status, await up.clone().text()).toBe(200);
    expect(await up.json()).toEqual({ success: true, path: '/docs/big.bin', size: data.length });
    expect(fs.readFileSync(join(root, 'docs', 'big.bin')).equals(data)).toBe(true);
    expect(fs.readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.part'))).toEqual([]);

    const down = await fetch(`${base()}/download?path=${encodeURIComponent('/docs/big.bin')}`, {
      headers: auth(),
    });
    expect(down.status).toBe(200);
    expect(down.headers.get('content-length')).toBe(String(data.length));
    expect(down.headers.get('content-disposition')).toBe(
      `attachment; filename="big.bin"; filename*=UTF-8''big.bin`,
    );
    expect(Buffer.from(await down.arrayBuffer()).equals(data)).toBe(true);
  });

  it('replaces an existing file only once the new one is complete', async () => {
    fs.writeFileSync(join(root, 'docs', 'note.txt'), 'old');
    const up = await upload(form('/docs', Buffer.from('new'), 'note.txt'));
    expect(up.status).toBe(200);
    expect(fs.readFileSync(join(root, 'docs', 'note.txt'), 'utf8')).toBe('new');
  });

  it('leaves no half file when the upload is aborted', async () => {
    const boundary = 'portalAbortBoundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n/docs\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="broken.bin"\r\n\r\n`,
    );
    const url = new URL(`${base()}/upload`);
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          ...auth(),
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(head.length + 4 * 1024 * 1024),
        },
      });
      req.on('error', () => resolve());
      req.write(head);
      req.write(randomBytes(1024 * 1024));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 500);
    });
    await waitFor(() => !fs.readdirSync(join(root, 'docs')).some((n) => n.includes('broken')));
    expect(fs.existsSync(join(root, 'docs', 'broken.bin'))).toBe(false);
  });

  it('refuses an upload past SFTP_UPLOAD_MAX_BYTES with 413 and keeps nothing of it', async () => {
    const big = await upload(form('/docs', randomBytes(9_000_000), 'huge.bin'));
    expect(big.status).toBe(413);
    expect(await errorOf(big)).toBe('File is too large');
    await waitFor(() => !fs.readdirSync(join(root, 'docs')).some((n) => n.includes('huge')));
    expect(fs.existsSync(join(root, 'docs', 'huge.bin'))).toBe(false);
  });

  it('refuses bad names, traversal, a missing path field, a file as the directory and other users', async () => {
    const bad = await upload(form('/docs', Buffer.from('x'), '..'));
    expect(bad.status).toBe(400);
    expect(await errorOf(bad)).toBe('Invalid file name');
    const climb = await upload(form('../../etc', Buffer.from('x')));
    expect(climb.status).toBe(400);
    expect(await errorOf(climb)).toBe('Invalid path');
    const noPath = await upload(form(undefined, Buffer.from('x')));
    expect(noPath.status).toBe(400);
    expect(await errorOf(noPath)).toBe('path is required (and must come before file)');
    const notDir = await upload(form('/docs/readme.txt', Buffer.from('x')));
    expect(await errorOf(notDir)).toBe('path is not a directory');
    const other = await newUser();
    expect((await upload(form('/docs', Buffer.from('x')), other)).status).toBe(404);
  });

  it('answers 404 for a missing file and 400 for a directory on download', async () => {
    const missing = await fetch(`${base()}/download?path=/nope.txt`, { headers: auth() });
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toBe('Path not found');
    const dir = await fetch(`${base()}/download?path=/docs`, { headers: auth() });
    expect(dir.status).toBe(400);
    expect(await errorOf(dir)).toBe('Path is a directory');
    expect((await fetch(`${base()}/download?path=/docs/readme.txt`)).status).toBe(401);
  });
});

const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;

async function waitFor(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
