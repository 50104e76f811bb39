import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { makeTempDir, removeDir } from '../helpers/env';
import { api, makeUser, signIn } from '../helpers/identity';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { newKeyPair, type SshTestServer, startSshServer } from '../helpers/ssh-server';

// Recorded VOD files and the VOD SFTP manager (seed 002 "VOD Storage", "SFTP VOD Storage") over
// real HTTP against a real ssh2 SFTP server: the recursive listing in the seed's layout and its
// sorts, streamed and ranged downloads, deletes, the streamed zip and its limits, the manager's
// operations confined to the VOD directory, and path traversal refused everywhere.

const SSH_USER = 'vods';
const SSH_PASSWORD = 'vod-files-password';
const SESSION = 'Show/2026-02-08_04-24-49';

let server: TestServer;
let ssh: SshTestServer;
let root: string;
let vodRoot: string;
let token: string;
const chunk0 = randomBytes(300_000);
const chunk1 = randomBytes(1000);
const older = randomBytes(10);

beforeAll(async () => {
  server = await startTestServer({ env: { ...NO_REQUEST_LIMITS } });
  root = makeTempDir();
  vodRoot = join(root, 'home', 'vods');
  fs.mkdirSync(join(vodRoot, SESSION), { recursive: true });
  fs.mkdirSync(join(vodRoot, 'Other', '2025-01-01_00-00-00'), { recursive: true });
  fs.writeFileSync(join(vodRoot, SESSION, 'chunk_000.mkv'), chunk0);
  fs.writeFileSync(join(vodRoot, SESSION, 'chunk_001.mkv'), chunk1);
  fs.writeFileSync(join(vodRoot, SESSION, 'chunk_002.mkv.part'), 'partial');
  fs.writeFileSync(join(vodRoot, 'Other', '2025-01-01_00-00-00', 'chunk_000.mkv'), older);
  fs.utimesSync(join(vodRoot, 'Other', '2025-01-01_00-00-00', 'chunk_000.mkv'), 1_000_000, 1_000_000);
  fs.utimesSync(join(vodRoot, SESSION, 'chunk_000.mkv'), 2_000_000, 2_000_000);
  fs.utimesSync(join(vodRoot, SESSION, 'chunk_001.mkv'), 3_000_000, 3_000_000);
  fs.writeFileSync(join(vodRoot, 'readme.txt'), 'hello vods');
  fs.writeFileSync(join(root, 'home', 'secret.txt'), 'outside the VOD directory');
  ssh = await startSshServer({
    root,
    username: SSH_USER,
    password: SSH_PASSWORD,
    publicKey: newKeyPair().public,
  });
  const { username, password } = await makeUser(server);
  token = await signIn(server, username, password);
  const put = await api(server, 'PUT', '/api/vod/storage', {
    token,
    body: {
      host: '127.0.0.1',
      port: ssh.port,
      username: SSH_USER,
      password: SSH_PASSWORD,
      remote_path: '/home/vods',
    },
  });
  expect(put.status).toBe(200);
});
afterAll(async () => {
  await ssh?.close();
  await server?.close();
  if (root) removeDir(root);
});

const raw = (method: string, path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, {
    ...init,
    method,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  });

type ZipEntry = { name: string; data: Buffer };

function readZip(buffer: Buffer): Promise<ZipEntry[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buffer, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const entries: ZipEntry[] = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.push({ name: entry.fileName, data: Buffer.concat(chunks) });
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('VOD files', () => {
  it('lists every .mkv recursively in the seed layout, newest first by default', async () => {
    const res = await api(server, 'GET', '/api/vod/files', { token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ path: '/home/vods', total: 3, truncated: false });
    expect(res.body.files).toEqual([
      { name: `${SESSION}/chunk_001.mkv`, size: 1000, modified: 3_000_000 },
      { name: `${SESSION}/chunk_000.mkv`, size: 300_000, modified: 2_000_000 },
      { name: 'Other/2025-01-01_00-00-00/chunk_000.mkv', size: 10, modified: 1_000_000 },
    ]);
    const bySize = await api(server, 'GET', '/api/vod/files?sort=size&order=asc', { token });
    expect((bySize.body.files as Array<{ size: number }>).map((f) => f.size)).toEqual([10, 1000, 300_000]);
    const byName = await api(server, 'GET', '/api/vod/files?sort=name&order=asc&limit=2&offset=1', { token });
    expect((byName.body.files as Array<{ name: string }>).map((f) => f.name)).toEqual([
      `${SESSION}/chunk_000.mkv`,
      `${SESSION}/chunk_001.mkv`,
    ]);
    for (const bad of ['sort=date', 'order=up', 'limit=0', 'offset=-1']) {
      const r = await api(server, 'GET', `/api/vod/files?${bad}`, { token });
      expect(r.status, bad).toBe(400);
    }
  });

  it('streams one file, whole or by byte range', async () => {
    const res = await raw('GET', `/api/vod/files/${SESSION}/chunk_000.mkv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/x-matroska');
    expect(res.headers.get('content-length')).toBe('300000');
    expect(res.headers.get('content-disposition')).toContain('filename="chunk_000.mkv"');
    expect(Buffer.from(await res.arrayBuffer()).equals(chunk0)).toBe(true);

    const part = await raw('GET', `/api/vod/files/${SESSION}/chunk_000.mkv`, {
      headers: { range: 'bytes=100-199' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 100-199/300000');
    expect(Buffer.from(await part.arrayBuffer()).equals(chunk0.subarray(100, 200))).toBe(true);
    const tail = await raw('GET', `/api/vod/files/${SESSION}/chunk_000.mkv`, {
      headers: { range: 'bytes=-5' },
    });
    expect(Buffer.from(await tail.arrayBuffer()).equals(chunk0.subarray(-5))).toBe(true);

    // An encoded path works as well as a plain one.
    const encoded = await raw('GET', `/api/vod/files/${encodeURIComponent(`${SESSION}/chunk_001.mkv`)}`);
    expect(Buffer.from(await encoded.arrayBuffer()).equals(chunk1)).toBe(true);
  });

  it('refuses non-mkv files, traversal and missing files', async () => {
    const cases: Array<[string, number, string]> = [
      ['readme.txt', 400, 'Only .mkv files are allowed'],
      [`${SESSION}/chunk_002.mkv.part`, 400, 'Only .mkv files are allowed'],
      ['..%2Fsecret.mkv', 400, 'Invalid path'],
      [`${SESSION}/..%2F..%2F..%2Fsecret.mkv`, 400, 'Invalid path'],
      ['a%5C..%5Cb.mkv', 400, 'Invalid path'],
      ['nope/missing.mkv', 404, 'Path not found'],
      ['Show.mkv', 404, 'Path not found'],
    ];
    for (const [path, status, error] of cases) {
      for (const method of ['GET', 'DELETE']) {
        const res = await api(server, method, `/api/vod/files/${path}`, { token });
        expect(res.status, `${method} ${path}`).toBe(status);
        expect(res.body.error, `${method} ${path}`).toBe(error);
      }
    }
    expect(fs.existsSync(join(vodRoot, 'readme.txt'))).toBe(true);
  });

  it('zips files streamed from SFTP, with their layout as entry names', async () => {
    const files = [
      `${SESSION}/chunk_000.mkv`,
      `${SESSION}/chunk_001.mkv`,
      'Other/2025-01-01_00-00-00/chunk_000.mkv',
    ];
    const res = await raw('POST', '/api/vod/download-zip', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="vods-\d{8}-\d{6}\.zip"/);
    const entries = await readZip(Buffer.from(await res.arrayBuffer()));
    expect(entries.map((e) => e.name)).toEqual(files);
    expect(entries[0]?.data.equals(chunk0)).toBe(true);
    expect(entries[1]?.data.equals(chunk1)).toBe(true);
    expect(entries[2]?.data.equals(older)).toBe(true);
  });

  it('refuses a 501st entry, non-mkv entries, traversal and missing files before streaming', async () => {
    const zip = (files: unknown) => api(server, 'POST', '/api/vod/download-zip', { token, body: { files } });
    const many = Array.from({ length: 501 }, (_, i) => `${SESSION}/chunk_${i}.mkv`);
    const tooMany = await zip(many);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toBe('files must have at most 500 items');
    expect((await zip([])).body.error).toBe('files must have at least 1 items');
    expect((await zip([`${SESSION}/chunk_000.mkv`, 'readme.txt'])).body.error).toBe(
      'Only .mkv files are allowed',
    );
    expect((await zip(['../home/x.mkv'])).body.error).toBe('Invalid path');
    expect((await zip('a.mkv')).body.error).toBe('files must be an array');
    const missing = await zip([`${SESSION}/chunk_000.mkv`, `${SESSION}/chunk_999.mkv`]);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe(`File not found: ${SESSION}/chunk_999.mkv`);
    const notJson = await raw('POST', '/api/vod/download-zip', {
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(notJson.status).toBe(415);
  });

  it('deletes one mkv', async () => {
    fs.writeFileSync(join(vodRoot, SESSION, 'chunk_009.mkv'), 'bye');
    const res = await api(server, 'DELETE', `/api/vod/files/${SESSION}/chunk_009.mkv`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    expect(fs.existsSync(join(vodRoot, SESSION, 'chunk_009.mkv'))).toBe(false);
  });
});

describe('VOD SFTP manager', () => {
  const q = (p: string) => `?path=${encodeURIComponent(p)}`;

  it('lists, reads, writes, creates, renames, uploads, downloads and deletes inside the VOD directory', async () => {
    const list = await api(server, 'GET', `/api/vod/sftp/list${q('/')}`, { token });
    expect(list.status).toBe(200);
    expect(list.body.path).toBe('/');
    expect((list.body.entries as Array<{ name: string }>).map((e) => e.name)).toEqual([
      'Other',
      'Show',
      'readme.txt',
    ]);
    const sub = await api(server, 'GET', `/api/vod/sftp/list${q('Show')}`, { token });
    expect(sub.body.path).toBe('/Show');

    const read = await api(server, 'GET', `/api/vod/sftp/read${q('/readme.txt')}`, { token });
    expect(read.body).toEqual({ path: '/readme.txt', content: 'hello vods', size: 10, encoding: 'utf8' });

    expect(
      (await api(server, 'POST', '/api/vod/sftp/mkdir', { token, body: { path: '/work' } })).status,
    ).toBe(200);
    expect(
      (
        await api(server, 'POST', '/api/vod/sftp/write', {
          token,
          body: { path: '/work/a.txt', content: 'A' },
        })
      ).status,
    ).toBe(200);
    expect(fs.readFileSync(join(vodRoot, 'work', 'a.txt'), 'utf8')).toBe('A');
    const renamed = await api(server, 'POST', '/api/vod/sftp/rename', {
      token,
      body: { old_path: '/work/a.txt', new_path: '/work/b.txt' },
    });
    expect(renamed.status).toBe(200);

    const form = new FormData();
    form.append('path', '/work');
    form.append('file', new Blob([Buffer.from('uploaded bytes')]), 'up.bin');
    const up = await raw('POST', '/api/vod/sftp/upload', { body: form });
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ success: true, path: '/work/up.bin', size: 14 });
    const down = await raw('GET', `/api/vod/sftp/download${q('/work/up.bin')}`);
    expect(down.status).toBe(200);
    expect(await down.text()).toBe('uploaded bytes');

    for (const p of ['/work/b.txt', '/work/up.bin', '/work']) {
      const res = await api(server, 'DELETE', `/api/vod/sftp/delete${q(p)}`, { token });
      expect(res.status, p).toBe(200);
    }
    expect(fs.existsSync(join(vodRoot, 'work'))).toBe(false);
  });

  it('refuses every path that would leave the VOD directory, and the directory itself where it matters', async () => {
    const outside = ['..', '../secret.txt', 'Show/../../secret.txt', '/..', 'a\\..\\b', 'x\u0000y'];
    for (const p of outside) {
      const checks = [
        api(server, 'GET', `/api/vod/sftp/list${q(p)}`, { token }),
        api(server, 'GET', `/api/vod/sftp/read${q(p)}`, { token }),
        raw('GET', `/api/vod/sftp/download${q(p)}`).then(async (r) => ({
          status: r.status,
          body: await r.json(),
        })),
        api(server, 'POST', '/api/vod/sftp/write', { token, body: { path: p, content: 'x' } }),
        api(server, 'POST', '/api/vod/sftp/mkdir', { token, body: { path: p } }),
        api(server, 'POST', '/api/vod/sftp/rename', {
          token,
          body: { old_path: '/readme.txt', new_path: p },
        }),
        api(server, 'POST', '/api/vod/sftp/rename', { token, body: { old_path: p, new_path: '/x.txt' } }),
        api(server, 'DELETE', `/api/vod/sftp/delete${q(p)}`, { token }),
      ];
      for (const res of await Promise.all(checks)) {
        expect(res.status, p).toBe(400);
        expect((res.body as { error: string }).error, p).toBe('Invalid path');
      }
    }
    const form = new FormData();
    form.append('path', '../');
    form.append('file', new Blob([Buffer.from('x')]), 'evil.txt');
    const up = await raw('POST', '/api/vod/sftp/upload', { body: form });
    expect(up.status).toBe(400);
    expect(fs.existsSync(join(root, 'home', 'evil.txt'))).toBe(false);

    for (const p of ['/', '', '.']) {
      const del = await api(server, 'DELETE', `/api/vod/sftp/delete${q(p)}`, { token });
      expect(del.status, p).toBe(400);
    }
    expect(fs.readFileSync(join(root, 'home', 'secret.txt'), 'utf8')).toBe('outside the VOD directory');
    expect(fs.existsSync(join(vodRoot, 'readme.txt'))).toBe(true);
  });

  it("answers 404 for a user without storage, never another user's files", async () => {
    const { username, password } = await makeUser(server);
    const other = await signIn(server, username, password);
    const res = await api(server, 'GET', `/api/vod/sftp/list${q('/')}`, { token: other });
    expect(res.status).toBe(404);
  });
});
