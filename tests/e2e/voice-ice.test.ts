import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iceServersFor, TURN_CREDENTIAL_TTL_SECONDS } from '../../src/services/voice/ice-servers';
import { api } from '../helpers/identity';
import { ok, refused, roomKit } from '../helpers/rooms';
import { startTestServer, type TestServer } from '../helpers/server';

// GET /api/voice/ice-servers (API.md §8): STUN always, TURN with TURN REST API credentials.

const SECRET = 'turn-shared-secret-for-tests';
const expected = (username: string) => createHmac('sha1', SECRET).update(username).digest('base64');

let server: TestServer;
const kit = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({
    env: { TURN_URLS: 'turn:turn.example.com:3478, turns:turn.example.com:5349', TURN_SECRET: SECRET },
  });
});
afterAll(async () => {
  await server?.close();
});

describe('GET /api/voice/ice-servers', () => {
  it('gives a signed-in user STUN and time-limited TURN credentials', async () => {
    const me = await kit.person();
    const before = Math.floor(Date.now() / 1000);
    const body = await ok(api(server, 'GET', '/api/voice/ice-servers', { token: me.token }));
    const after = Math.floor(Date.now() / 1000);
    expect(body.ttl).toBe(86_400);
    expect(body.ice_servers[0]).toEqual({ urls: 'stun:stun.l.google.com:19302' });
    const turn = body.ice_servers.slice(1);
    expect(turn.map((s: { urls: string }) => s.urls)).toEqual([
      'turn:turn.example.com:3478',
      'turns:turn.example.com:5349',
    ]);
    for (const entry of turn) {
      const [expiry, userId] = String(entry.username).split(':');
      expect(Number(userId)).toBe(me.id);
      expect(Number(expiry)).toBeGreaterThanOrEqual(before + 86_400);
      expect(Number(expiry)).toBeLessThanOrEqual(after + 86_400);
      expect(entry.credential).toBe(expected(entry.username));
    }
  });

  it('is the same procedure over tRPC, and needs a signed-in user', async () => {
    await refused(api(server, 'GET', '/api/voice/ice-servers'), 401, 'Authentication required');
    const me = await kit.person();
    const res = await api(server, 'GET', '/trpc/voice.iceServers', { token: me.token });
    expect(res.status).toBe(200);
    expect((res.body as { result: { data: { ttl: number } } }).result.data.ttl).toBe(
      TURN_CREDENTIAL_TTL_SECONDS,
    );
  });
});

describe('iceServersFor', () => {
  const now = new Date('2026-01-01T00:00:00Z');

  it('is STUN only without a TURN secret or TURN URLs', () => {
    expect(iceServersFor({ userId: 1, now })).toEqual({
      ice_servers: [{ urls: 'stun:stun.l.google.com:19302' }],
    });
    expect(iceServersFor({ userId: 1, turnUrls: 'turn:t.example:3478', now }).ice_servers).toEqual([
      { urls: 'stun:stun.l.google.com:19302' },
    ]);
    expect(iceServersFor({ userId: 1, turnSecret: SECRET, now }).ttl).toBeUndefined();
  });

  it('uses configured stun: URLs instead of the default', () => {
    const out = iceServersFor({
      userId: 42,
      turnUrls: 'stun:stun.example.org:3478,turn:t.example:3478?transport=udp',
      turnSecret: SECRET,
      now,
    });
    const username = `${now.getTime() / 1000 + 86_400}:42`;
    expect(out).toEqual({
      ice_servers: [
        { urls: 'stun:stun.example.org:3478' },
        { urls: 'turn:t.example:3478?transport=udp', username, credential: expected(username) },
      ],
      ttl: 86_400,
    });
  });
});
