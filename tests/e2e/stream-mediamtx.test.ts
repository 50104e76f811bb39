import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseStreamOffline } from '../../src/services/streams/holds';
import type { WentLive, WentOffline } from '../../src/services/streams/lifecycle';
import { internalPassword } from '../../src/services/streams/mediamtx';
import { api } from '../helpers/identity';
import { waitFor } from '../helpers/portal-client';
import { type Json, ok, refused, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { HOOK_SECRET, livePath, makeStream, mediamtx } from '../helpers/streams';

// MediaMTX's requests to Portal, in MediaMTX's own formats: external HTTP authentication (publish
// by stream key or RTMP token, read for public streams or the owner), the ready / not-ready hooks
// driving is_live 0 → 1 → 2 → 0 through the lifecycle interface and its holds, and who may call
// the hooks at all. TTLs are configured short so the 15 min + 30 s rules can be seen at work.

const TTL_SECONDS = 5;
const GRACE_SECONDS = 5;

let server: TestServer;
const { person } = roomKit(() => server);
const hooks = mediamtx(() => server);

beforeAll(async () => {
  server = await startTestServer({
    env: {
      ...NO_REQUEST_LIMITS,
      MEDIAMTX_HOOK_SECRET: HOOK_SECRET,
      RTMP_PLAIN_ENABLED: 'true',
      RTMP_TOKEN_TTL_SECONDS: String(TTL_SECONDS),
      RTMP_TOKEN_GRACE_SECONDS: String(GRACE_SECONDS),
    },
  });
});
afterAll(async () => {
  await server?.close();
});

const streamOf = async (token: string, id: number) => ok(api(server, 'GET', `/api/streams/${id}`, { token }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MediaMTX authentication (authMethod: http)', () => {
  it('lets a publisher in with the stream key, and refuses a wrong key or a foreign path', async () => {
    const alice = await person();
    const s = await makeStream(server, alice);
    expect(
      await ok(hooks.auth({ action: 'publish', path: livePath(s.stream_key), protocol: 'rtmp' })),
    ).toMatchObject({
      success: true,
      stream_id: s.id,
    });
    await ok(hooks.auth({ action: 'publish', path: livePath(s.stream_key), protocol: 'rtsp' }));
    await ok(
      hooks.auth({
        action: 'publish',
        path: livePath(s.stream_key),
        protocol: 'webrtc',
        id: crypto.randomUUID(),
      }),
    );
    await refused(
      hooks.auth({ action: 'publish', path: livePath(`${s.stream_key}x`) }),
      401,
      'Invalid stream key',
    );
    await refused(
      hooks.auth({ action: 'publish', path: livePath('live_wrongwrongwrongwrongwrong') }),
      401,
      'Invalid stream key',
    );
    await refused(
      hooks.auth({ action: 'publish', path: livePath(s.playback_key) }),
      401,
      'Invalid stream key',
    );
    await refused(
      hooks.auth({ action: 'publish', path: `other/${s.stream_key}` }),
      401,
      'Invalid stream key',
    );
    await refused(hooks.auth({ action: 'publish', path: '' }), 401, 'Invalid stream key');
  });

  it('lets anyone read a public stream, only the owner a private one', async () => {
    const alice = await person();
    const bob = await person();
    const pub = await makeStream(server, alice);
    const priv = await makeStream(server, alice, { is_public: false });
    await ok(hooks.auth({ action: 'read', path: livePath(pub.stream_key), protocol: 'rtsp' }));
    await ok(hooks.auth({ action: 'playback', path: livePath(pub.stream_key), protocol: 'hls' }));
    await refused(
      hooks.auth({ action: 'read', path: livePath(priv.stream_key), protocol: 'rtsp' }),
      401,
      'Authentication required',
    );
    await refused(
      hooks.auth({ action: 'read', path: livePath(priv.stream_key), protocol: 'hls', token: bob.token }),
      403,
      'This stream is private',
    );
    await refused(
      hooks.auth({
        action: 'read',
        path: livePath(priv.stream_key),
        protocol: 'rtsp',
        user: 'x',
        password: 'not-a-token',
      }),
      403,
      'This stream is private',
    );
    await ok(
      hooks.auth({ action: 'read', path: livePath(priv.stream_key), protocol: 'hls', token: alice.token }),
    );
    await ok(
      hooks.auth({
        action: 'read',
        path: livePath(priv.stream_key),
        protocol: 'rtsp',
        user: alice.username,
        password: alice.token,
      }),
    );
    await refused(
      hooks.auth({ action: 'read', path: 'live/nothing-here', protocol: 'rtsp' }),
      401,
      'Stream not found',
    );
  });

  it("keeps MediaMTX's API to Portal, and lets Portal's own credentials through", async () => {
    const alice = await person();
    const priv = await makeStream(server, alice, { is_public: false });
    for (const action of ['api', 'metrics', 'pprof'] as const)
      await refused(
        hooks.auth({ action, path: '', protocol: undefined, token: alice.token }),
        403,
        /Only Portal/,
      );
    const portal = { user: 'portal', password: internalPassword(server.deps.secretKey) };
    await ok(hooks.auth({ action: 'api', path: '', ...portal }));
    await ok(hooks.auth({ action: 'read', path: livePath(priv.stream_key), protocol: 'hls', ...portal }));
    await refused(
      hooks.auth({
        action: 'read',
        path: livePath(priv.stream_key),
        protocol: 'hls',
        user: 'portal',
        password: 'guess',
      }),
      403,
      'This stream is private',
    );
  });

  it('refuses malformed requests without a crash', async () => {
    const bad = await api(server, 'POST', `/api/mediamtx/auth?secret=${HOOK_SECRET}`, {
      body: { action: 'fly', path: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/action must be one of/);
    const notJson = await fetch(`${server.url}/api/mediamtx/auth?secret=${HOOK_SECRET}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"action":',
    });
    expect(notJson.status).toBe(400);
    await refused(
      api(server, 'POST', '/api/mediamtx/ready', {
        body: {},
        headers: { 'x-portal-hook-secret': HOOK_SECRET },
      }),
      400,
      'path is required',
    );
  });
});

describe('RTMP tokens', () => {
  it('issues rtmp_ tokens only for streams with rtmp_enabled', async () => {
    const alice = await person();
    const s = await makeStream(server, alice);
    await refused(
      api(server, 'POST', `/api/streams/${s.id}/rtmp-token`, { token: alice.token }),
      400,
      /rtmp_enabled/,
    );
    await ok(
      api(server, 'PUT', `/api/streams/${s.id}`, { token: alice.token, body: { rtmp_enabled: true } }),
    );
    const t = await ok(api(server, 'POST', `/api/streams/${s.id}/rtmp-token`, { token: alice.token }));
    expect(t.token).toMatch(/^rtmp_[A-Za-z0-9_-]{32}$/);
    expect(t.expires_in).toBe(TTL_SECONDS);
    expect(t.rtmp_url).toMatch(/^rtmp:\/\/.+:1935\/live$/);
    // Plain RTMP only: a token is not a key for RTSP or WHIP.
    await refused(
      hooks.auth({ action: 'publish', path: livePath(t.token), protocol: 'rtsp' }),
      403,
      /plain RTMP/,
    );
    // Turning RTMP off again refuses the tokens already out.
    await ok(
      api(server, 'PUT', `/api/streams/${s.id}`, { token: alice.token, body: { rtmp_enabled: false } }),
    );
    await refused(hooks.auth({ action: 'publish', path: livePath(t.token) }), 401, /plain RTMP disabled/);
  });

  it('is single-use, honours the reconnect grace after a drop, then is spent', async () => {
    const alice = await person();
    const s = await makeStream(server, alice, { rtmp_enabled: true });
    const { token } = await ok(
      api(server, 'POST', `/api/streams/${s.id}/rtmp-token`, { token: alice.token }),
    );
    const path = livePath(token);
    await ok(hooks.auth({ action: 'publish', path }));
    await refused(hooks.auth({ action: 'publish', path }), 401, 'Invalid RTMP token (reused token)');

    // The token is the MediaMTX path: Portal maps it back to the stream.
    expect(await ok(hooks.ready(path))).toEqual({ stream_id: s.id, is_live: 1 });
    expect((await streamOf(alice.token, s.id)).is_live).toBe(1);
    // A reconnect before MediaMTX reported the drop is the same session.
    await ok(hooks.auth({ action: 'publish', path }));
    expect(await ok(hooks.notReady(path))).toEqual({ stream_id: s.id, is_live: 0 });

    // The encoder comes back within the grace: allowed once.
    await ok(hooks.auth({ action: 'publish', path }));
    await ok(hooks.ready(path));
    await ok(hooks.notReady(path));
    // After the grace it is spent, even though the same encoder asks.
    await sleep((GRACE_SECONDS + 1) * 1000);
    await refused(hooks.auth({ action: 'publish', path }), 401, 'Invalid RTMP token (reused token)');
  });

  it('expires unused after the TTL', async () => {
    const alice = await person();
    const s = await makeStream(server, alice, { rtmp_enabled: true });
    const { token } = await ok(
      api(server, 'POST', `/api/streams/${s.id}/rtmp-token`, { token: alice.token }),
    );
    await sleep((TTL_SECONDS + 1) * 1000);
    await refused(
      hooks.auth({ action: 'publish', path: livePath(token) }),
      401,
      'Invalid RTMP token (expired token)',
    );
    await refused(
      hooks.auth({ action: 'publish', path: livePath('rtmp_neverissuedneverissuedneverissued') }),
      401,
      'Invalid RTMP token (unknown token)',
    );
  });
});

describe('ready / not-ready and the lifecycle', () => {
  it('goes 0 → 1 → 2 → 0, holding at 2 while a listener has work left', async () => {
    const alice = await person();
    const s = await makeStream(server, alice);
    const path = livePath(s.stream_key);
    const lives: WentLive[] = [];
    const offs: WentOffline[] = [];
    const offLive = server.deps.streamLifecycle.onWentLive((e) => {
      if (e.streamId === s.id) lives.push(e);
    });
    const offOffline = server.deps.streamLifecycle.onWentOffline(async (e) => {
      if (e.streamId !== s.id) return;
      offs.push(e);
      await e.hold('test:vod');
    });
    try {
      expect(await ok(hooks.ready(path))).toEqual({ stream_id: s.id, is_live: 1 });
      // A repeated hook is the same session: no second went-live.
      await ok(hooks.ready(path));
      expect(lives).toHaveLength(1);
      expect(lives[0]).toMatchObject({
        streamId: s.id,
        userId: alice.id,
        username: alice.username,
        mediaPath: path,
      });
      expect(lives[0]!.readUrl.rtsp).toMatch(/^rtsp:\/\/portal:[0-9a-f]{64}@/);
      const live = await streamOf(alice.token, s.id);
      expect(live.is_live).toBe(1);
      expect(live.started_at).not.toBeNull();

      expect(await ok(hooks.notReady(path))).toEqual({ stream_id: s.id, is_live: 2 });
      expect(offs).toHaveLength(1);
      expect(offs[0]!.sessionId).toBe(lives[0]!.sessionId);
      expect((await streamOf(alice.token, s.id)).is_live).toBe(2);
      // A late duplicate of the hook changes nothing.
      expect(await ok(hooks.notReady(path))).toEqual({ stream_id: s.id, is_live: 2 });

      expect(
        await releaseStreamOffline({ db: server.deps.database.db }, { streamId: s.id, holder: 'test:vod' }),
      ).toBe(0);
      const ended = await streamOf(alice.token, s.id);
      expect(ended.is_live).toBe(0);
      expect(ended.ended_at).not.toBeNull();
      // The activity feed (seed 002) has both ends of the session, once each.
      const feed = await ok(api(server, 'GET', '/api/activity', { token: alice.token }));
      expect(
        (feed.activities as Array<{ action: string }>).filter((a) => a.action.startsWith('stream_')),
      ).toMatchObject([{ action: 'stream_stopped' }, { action: 'stream_started' }]);
    } finally {
      offLive();
      offOffline();
    }
  });

  it('lists live public streams with viewer counts from WebRTC readers', async () => {
    const alice = await person();
    const bob = await person();
    const s = await makeStream(server, alice);
    const path = livePath(s.stream_key);
    await ok(hooks.ready(path));
    await ok(hooks.read(path, 'webRTCSession', 'reader-1'));
    await ok(hooks.read(path, 'webRTCSession', 'reader-2'));
    // Portal's own readers (RTSP for relays and recording) are not viewers.
    expect(await ok(hooks.read(path, 'rtspSession', 'relay-1'))).toEqual({ success: true, counted: false });
    const live = await ok(api(server, 'GET', '/api/streams/live?limit=100', { token: bob.token }));
    const mine = (live.streams as Json[]).find((x) => x.id === s.id);
    expect(mine).toMatchObject({ is_live: 1, viewer_count: 2 });
    await ok(hooks.read(path, 'webRTCSession', 'reader-1', 'unread'));
    await waitFor(
      async () =>
        ((await ok(api(server, 'GET', `/api/streams/${s.id}`, { token: bob.token })))
          .viewer_count as number) === 1,
      'viewer count 1',
    );
    await ok(hooks.notReady(path));
    const after = await ok(api(server, 'GET', '/api/streams/live?limit=100', { token: bob.token }));
    expect((after.streams as Json[]).some((x) => x.id === s.id)).toBe(false);
  });

  it('answers 404 for paths that are no stream, and refuses callers without the secret', async () => {
    await refused(hooks.ready('live/live_unknownunknownunknownunknown'), 404, 'Stream not found');
    await refused(
      api(server, 'POST', '/api/mediamtx/ready', { body: { path: 'live/x' } }),
      401,
      'Invalid hook secret',
    );
    await refused(
      api(server, 'POST', '/api/mediamtx/ready', {
        body: { path: 'live/x' },
        headers: { 'x-portal-hook-secret': 'wrong' },
      }),
      401,
      'Invalid hook secret',
    );
    await refused(
      hooks.auth({ action: 'publish', path: 'live/x' }, { secret: null }),
      401,
      'Invalid hook secret',
    );
  });
});

describe('without MEDIAMTX_HOOK_SECRET or RTMP_PLAIN_ENABLED', () => {
  let plain: TestServer;
  beforeAll(async () => {
    plain = await startTestServer({ env: { ...NO_REQUEST_LIMITS, TRUST_PROXY: '1' } });
  });
  afterAll(async () => {
    await plain?.close();
  });

  it('hears hooks from this host only, and issues no RTMP tokens', async () => {
    const { person: p } = roomKit(() => plain);
    const alice = await p();
    const s = await makeStream(plain, alice, { rtmp_enabled: true });
    const local = mediamtx(() => plain, null);
    await ok(local.auth({ action: 'publish', path: livePath(s.stream_key) }));
    await refused(
      api(plain, 'POST', '/api/mediamtx/ready', {
        body: { path: livePath(s.stream_key) },
        headers: { 'x-forwarded-for': '203.0.113.9' },
      }),
      403,
      'Media-server hooks are only accepted from this host',
    );
    await refused(
      api(plain, 'POST', `/api/streams/${s.id}/rtmp-token`, { token: alice.token }),
      403,
      'Plain RTMP is not enabled on this server (RTMP_PLAIN_ENABLED)',
    );
  });
});
