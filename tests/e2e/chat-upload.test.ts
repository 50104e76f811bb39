import { readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../../src/db/schema';
import { createApiKey } from '../../src/services/auth/api-keys';
import { joinChannel, openChat, publicChannel } from '../helpers/chat-client';
import { api } from '../helpers/identity';
import { closePortalClients } from '../helpers/portal-client';
import { type Json, refused, roomKit, UUID } from '../helpers/rooms';
import { startTestServer, type TestServer } from '../helpers/server';

// POST /api/chat/upload and GET /static/uploads/chat/<name> (API.md §8).

let server: TestServer;
const kit = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({
    env: { RATE_LIMIT_AUTH: '10000', RATE_LIMIT_PUBLIC: '10000', CHAT_RATE_MESSAGES: '1000' },
  });
});
afterAll(async () => {
  await server?.close();
});

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(100, 1),
]);
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(50, 2)]);
const GIF = Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(30, 3)]);
const WEBP = Buffer.concat([
  Buffer.from('RIFF'),
  Buffer.from([0x20, 0, 0, 0]),
  Buffer.from('WEBPVP8 '),
  Buffer.alloc(20),
]);

/** A multipart upload as a browser sends it; the client-side type and name are deliberately wrong. */
async function upload(
  data: Buffer,
  opts: { token?: string; field?: string; headers?: Record<string, string> } = {},
) {
  const form = new FormData();
  form.append(opts.field ?? 'image', new Blob([data], { type: 'image/png' }), 'picture.png');
  const res = await fetch(`${server.url}/api/chat/upload`, {
    method: 'POST',
    body: form,
    headers: { ...(opts.token && { authorization: `Bearer ${opts.token}` }), ...opts.headers },
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Json, headers: res.headers };
}

describe('POST /api/chat/upload', () => {
  it('stores JPEG, PNG, GIF and WebP by their magic bytes and serves them back', async () => {
    const me = await kit.person();
    for (const [data, ext, type] of [
      [JPEG, 'jpg', 'image/jpeg'],
      [PNG, 'png', 'image/png'],
      [GIF, 'gif', 'image/gif'],
      [WEBP, 'webp', 'image/webp'],
    ] as const) {
      const res = await upload(data, { token: me.token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.url).toMatch(new RegExp(`^/static/uploads/chat/[A-Za-z0-9_-]{22}\\.${ext}$`));
      const got = await fetch(`${server.url}${res.body.url}`);
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe(type);
      expect(got.headers.get('x-content-type-options')).toBe('nosniff');
      expect(got.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(got.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(got.headers.get('x-frame-options')).toBe('DENY');
      expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    }
    const dir = join(server.dataDir, 'uploads', 'chat');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toHaveLength(4);
  });

  it('answers HEAD with the headers and no body', async () => {
    const me = await kit.person();
    const { body } = await upload(PNG, { token: me.token });
    const res = await fetch(`${server.url}${body.url}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-length')).toBe(String(PNG.length));
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('refuses what is not an image, whatever the client claims', async () => {
    const me = await kit.person();
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    const res = await upload(svg, { token: me.token });
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({
      error: 'Only JPEG, PNG, GIF and WebP images are accepted',
      status: 415,
    });
    expect(res.body.correlation_id).toMatch(UUID);
    expect((await upload(Buffer.alloc(0), { token: me.token })).status).toBe(415);
  });

  it('accepts 5 MB and refuses one byte more', async () => {
    const me = await kit.person();
    const max = 5 * 1024 * 1024;
    const big = Buffer.alloc(max, 7);
    PNG.copy(big);
    expect((await upload(big, { token: me.token })).status).toBe(200);
    const over = Buffer.alloc(max + 1, 7);
    PNG.copy(over);
    const res = await upload(over, { token: me.token });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'Image must be at most 5 MB', status: 413 });
  });

  it('cuts off a streamed upload at the cap and answers 413', async () => {
    const me = await kit.person();
    const boundary = 'xyzBoundary';
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/api/chat/upload`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${me.token}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'transfer-encoding': 'chunked',
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      // The server may close while we are still writing: only the answer matters here.
      req.on('error', (err) => reject(err));
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\n`);
      req.write(PNG);
      let sent = 0;
      const pump = () => {
        while (sent < 20 * 1024 * 1024) {
          sent += 64 * 1024;
          if (!req.write(Buffer.alloc(64 * 1024, 9))) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(413);
  });

  it('needs the image field and a multipart body', async () => {
    const me = await kit.person();
    const res = await upload(PNG, { token: me.token, field: 'file' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('image is required');
    await refused(
      api(server, 'POST', '/api/chat/upload', { token: me.token, body: { image: 'x' } }),
      415,
      'Content-Type must be multipart/form-data',
    );
  });

  it('needs a signed-in user, the chat scope for API keys, and no timeout', async () => {
    expect((await upload(PNG)).status).toBe(401);
    const me = await kit.person();
    const db = server.deps.database.db;
    const roomsOnly = await createApiKey(db, {
      userId: me.id,
      name: 'rooms',
      scopes: 'rooms',
      expiresInDays: null,
    });
    expect((await upload(PNG, { token: roomsOnly.key })).status).toBe(403);
    const chat = await createApiKey(db, { userId: me.id, name: 'chat', scopes: 'chat', expiresInDays: null });
    expect((await upload(PNG, { token: chat.key })).status).toBe(200);

    const until = new Date(Date.now() + 3_600_000);
    await db
      .update(users)
      .set({ state: 1, stateReason: 'Spamming in chat', stateExpiresAt: until })
      .where(eq(users.id, me.id));
    const res = await upload(PNG, { token: me.token });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      error: 'Your account is temporarily restricted',
      reason: 'Spamming in chat',
      expires_at: until.toISOString(),
    });
  });

  it('limits uploads per user', async () => {
    const me = await kit.person();
    for (let i = 0; i < 30; i++) expect((await upload(GIF, { token: me.token })).status).toBe(200);
    const res = await upload(GIF, { token: me.token });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('GET /static/uploads/chat/<name>', () => {
  it('answers 404 in the contract shape for unknown and malformed names', async () => {
    for (const name of [
      'AAAAAAAAAAAAAAAAAAAAAA.png',
      'x.png',
      '..%2F..%2Fdb.sqlite',
      'AAAAAAAAAAAAAAAAAAAAAA.svg',
    ]) {
      await refused(api(server, 'GET', `/static/uploads/chat/${name}`), 404, /not found/i);
    }
    const res = await fetch(`${server.url}/static/uploads/chat/../../../etc/passwd`);
    expect(res.status).toBe(404);
  });
});

describe('deleting uploads with their messages', () => {
  const served = async (url: string) => (await fetch(`${server.url}${url}`)).status;

  it('deletes the file with the last channel or DM message showing it, by author or moderator', async () => {
    const admin = await kit.person(2);
    const alice = await kit.person();
    const bob = await kit.person();
    const channel = await publicChannel(server, admin, `uploads-${process.pid}`);
    const ws = await openChat(server, alice.token);
    await joinChannel(ws, channel.name);
    const sendImage = async (image_url: string) => {
      ws.send({ type: 'message', channel: channel.name, message: '', image_url });
      return (await ws.nextOf('message')).id as number;
    };
    const deleted = async (socket: typeof ws, message_id: number) => {
      socket.send({ type: 'delete', message_id });
      await socket.nextOf('message_deleted');
    };

    // Shown by two messages: the file stays until both are gone.
    const shared = (await upload(PNG, { token: alice.token })).body.url as string;
    const first = await sendImage(shared);
    const second = await sendImage(shared);
    await deleted(ws, first);
    expect(await served(shared)).toBe(200);
    await deleted(ws, second);
    expect(await served(shared)).toBe(404);

    // A moderator's deletion takes the file too.
    const moderated = (await upload(GIF, { token: alice.token })).body.url as string;
    const third = await sendImage(moderated);
    const mod = await openChat(server, admin.token);
    await joinChannel(mod, channel.name);
    await deleted(mod, third);
    expect(await served(moderated)).toBe(404);

    // And a DM's.
    const made = await api(server, 'POST', '/api/dm/conversations', {
      token: alice.token,
      body: { user_id: bob.id },
    });
    const conversation_id = made.body.id as number;
    const inDm = (await upload(JPEG, { token: alice.token })).body.url as string;
    ws.send({ type: 'dm_message', conversation_id, message: 'look', image_url: inDm });
    const dm = await ws.nextOf('dm_message');
    expect(dm.image_url).toBe(inDm);
    ws.send({ type: 'dm_delete', conversation_id, message_id: dm.id });
    await ws.nextOf('dm_message_deleted');
    expect(await served(inDm)).toBe(404);
    await closePortalClients();
  });
});
