import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { internalAuthorization } from '../../src/services/streams/mediamtx';
import { type Receiver, receiverSkipReason, startReceiver } from '../helpers/https-receiver';
import { api } from '../helpers/identity';
import { FFMPEG, ffmpegSkipReason, type MediaOrigin, startMediaOrigin } from '../helpers/media-origin';
import { closePortalClients, openPortal, portalUrl, waitFor } from '../helpers/portal-client';
import { type Json, ok, refused, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { HOOK_SECRET, livePath, makeStream, mediamtx } from '../helpers/streams';

// Streams with real media: ffmpeg encodes a test picture to HLS, served by a stand-in for
// MediaMTX's HLS and WebRTC servers (tests/helpers/media-origin.ts). Going live notifies followers
// over /ws/portal and reaches a real HTTPS webhook receiver; the HLS playlist and its segments
// come through Portal's proxy (with Portal's own MediaMTX credentials, never the publish key);
// thumbnails are JPEGs taken by ffmpeg from the live stream, or the uploaded one.

const skipReason = ffmpegSkipReason() ?? receiverSkipReason();
if (skipReason) console.warn(`Skipping the stream media tests: ${skipReason}`);

let server: TestServer;
let origin: MediaOrigin;
let receiver: Receiver;
const { person } = roomKit(() => server);
const hooks = mediamtx(() => server);

beforeAll(async () => {
  if (skipReason) return;
  origin = await startMediaOrigin();
  receiver = await startReceiver();
  server = await startTestServer({
    env: {
      ...NO_REQUEST_LIMITS,
      MEDIAMTX_URL: origin.url,
      MEDIAMTX_WEBRTC_URL: origin.url,
      MEDIAMTX_HOOK_SECRET: HOOK_SECRET,
      FFMPEG_PATH: FFMPEG,
      WEBHOOK_TEST_CA_FILE: receiver.caFile,
      WEBHOOK_TEST_ALLOW_LOOPBACK: 'true',
      WEBHOOK_POLL_INTERVAL_MS: '200',
    },
  });
});
afterAll(async () => {
  await server?.close();
  await origin?.close();
  await receiver?.close();
});
afterEach(async () => {
  await closePortalClients();
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const isJpeg = (b: Buffer) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** A stream that is live on the stand-in: ffmpeg publishing, MediaMTX's auth and ready hook done. */
async function goLive(s: Json) {
  const path = livePath(s.stream_key);
  await origin.publish(path);
  await ok(hooks.auth({ action: 'publish', path }));
  expect(await ok(hooks.ready(path))).toMatchObject({ stream_id: s.id, is_live: 1 });
  return path;
}

async function endLive(path: string) {
  await origin.unpublish(path);
  return ok(hooks.notReady(path));
}

describe.skipIf(skipReason !== undefined)('a live stream', () => {
  it('notifies, plays HLS through the proxy, takes JPEG thumbnails, and ends', async () => {
    const alice = await person();
    const bob = await person();
    const admin = await person(2);
    const hookPath = '/stream-events';
    await ok(
      api(server, 'POST', '/api/webhooks', {
        token: admin.token,
        body: {
          name: 'streams',
          type: 'outgoing',
          url: receiver.url(hookPath),
          events: ['stream.live', 'stream.offline'],
        },
      }),
    );
    const s = await makeStream(server, alice, { title: 'Live test' });
    await ok(api(server, 'POST', `/api/streams/${s.id}/follow`, { token: bob.token }));
    const bobSocket = await openPortal(portalUrl(server, bob.token));
    const aliceSocket = await openPortal(portalUrl(server, alice.token));

    const path = await goLive(s);
    for (const socket of [bobSocket, aliceSocket]) {
      const frame = await socket.nextOf('notification');
      expect(frame.notification).toMatchObject({
        type: 'stream_live',
        title: 'Stream Live',
        message: `${alice.username} started streaming`,
        data: { stream_id: s.id, playback_key: s.playback_key },
      });
      expect(JSON.stringify(frame)).not.toContain(s.stream_key);
    }
    const listed = await ok(api(server, 'GET', '/notifications', { token: bob.token }));
    expect((listed.notifications as Json[])[0]).toMatchObject({ type: 'stream_live', is_read: false });
    expect((await ok(api(server, 'GET', `/api/streams/${s.id}`, { token: bob.token }))).is_live).toBe(1);

    // HLS through the proxy, no credentials needed for a public stream.
    const playlist = await get(`/api/stream/${s.playback_key}/hls/index.m3u8`);
    expect(playlist.status).toBe(200);
    expect(playlist.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    const text = await playlist.text();
    expect(text.startsWith('#EXTM3U')).toBe(true);
    expect(text).not.toContain(s.stream_key);
    const segment = text.split('\n').find((l) => l.endsWith('.ts'))!;
    const seg = await get(`/api/stream/${s.playback_key}/hls/${segment}`);
    expect(seg.status).toBe(200);
    const bytes = Buffer.from(await seg.arrayBuffer());
    expect(bytes.length).toBe(Number(seg.headers.get('content-length')));
    expect(bytes[0]).toBe(0x47); // MPEG-TS sync byte
    // Portal asked MediaMTX as its own user, on the publish-key path the viewer never saw.
    const upstream = origin.requests.filter((r) => r.path === `/${path}/index.m3u8`);
    expect(upstream.length).toBeGreaterThan(0);
    expect(upstream.every((r) => r.authorization === internalAuthorization(server.deps.secretKey))).toBe(
      true,
    );
    // The viewer counts.
    await waitFor(
      async () =>
        ((await ok(api(server, 'GET', `/api/streams/${s.id}`, { token: bob.token })))
          .viewer_count as number) >= 1,
      'a viewer counted',
    );

    // The dynamic thumbnail: a JPEG from the live stream, cached (the second answer is the same picture).
    const thumb = await get(`/api/stream/${s.playback_key}/thumbnail.jpg`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect(thumb.headers.get('cache-control')).toBe('public, max-age=15');
    const jpeg = Buffer.from(await thumb.arrayBuffer());
    expect(isJpeg(jpeg)).toBe(true);
    const again = Buffer.from(await (await get(`/api/stream/${s.playback_key}/thumbnail.jpg`)).arrayBuffer());
    expect(again.equals(jpeg)).toBe(true);
    // The publish key works as the key of the thumbnail URL too (seed 002).
    expect(
      isJpeg(Buffer.from(await (await get(`/api/stream/${s.stream_key}/thumbnail.jpg`)).arrayBuffer())),
    ).toBe(true);

    await waitFor(() => receiver.received(hookPath).length >= 1, 'stream.live delivered', 20_000);
    const live = JSON.parse(receiver.received(hookPath)[0]!.body);
    expect(live).toMatchObject({
      event: 'stream.live',
      data: { stream_id: s.id, user_id: alice.id, title: 'Live test' },
    });
    expect(receiver.received(hookPath)[0]!.body).not.toContain(s.stream_key);

    expect(await endLive(path)).toEqual({ stream_id: s.id, is_live: 0 });
    await waitFor(() => receiver.received(hookPath).length >= 2, 'stream.offline delivered', 20_000);
    expect(JSON.parse(receiver.received(hookPath)[1]!.body)).toMatchObject({
      event: 'stream.offline',
      data: { stream_id: s.id },
    });
    await refused(
      api(server, 'GET', `/api/stream/${s.playback_key}/hls/index.m3u8`),
      404,
      'Stream is offline',
    );
    await refused(
      api(server, 'GET', `/api/stream/${s.playback_key}/thumbnail.jpg`),
      404,
      'Thumbnail not found',
    );
  });

  it('plays a private stream for its owner only', async () => {
    const alice = await person();
    const bob = await person();
    const s = await makeStream(server, alice, { is_public: false });
    const path = await goLive(s);
    const url = `/api/stream/${s.playback_key}/hls/index.m3u8`;
    await refused(api(server, 'GET', url), 404, 'Stream not found');
    await refused(api(server, 'GET', url, { token: bob.token }), 404, 'Stream not found');
    await refused(
      api(server, 'GET', `/api/stream/${s.playback_key}/thumbnail.jpg`, { token: bob.token }),
      404,
      'Stream not found',
    );
    expect((await get(url, bearer(alice.token))).status).toBe(200);
    expect((await get(`${url}?token=${encodeURIComponent(alice.token)}`)).status).toBe(200);
    const thumb = await get(`/api/stream/${s.playback_key}/thumbnail.jpg`, bearer(alice.token));
    expect(thumb.headers.get('cache-control')).toBe('private, max-age=15');
    await endLive(path);
  });

  it('refuses file names outside HLS and keys that are no stream', async () => {
    const alice = await person();
    const s = await makeStream(server, alice);
    const path = await goLive(s);
    for (const file of ['index.php', '..%2Fsecret.m3u8', '.hidden.m3u8', 'a%00.ts'])
      await refused(api(server, 'GET', `/api/stream/${s.playback_key}/hls/${file}`), 404, 'Not found');
    await refused(
      api(server, 'GET', '/api/stream/pub_nosuchstreamnosuchstream/hls/index.m3u8'),
      404,
      'Stream not found',
    );
    await refused(api(server, 'GET', '/api/stream/whatever/hls/index.m3u8'), 404, 'Stream not found');
    // A file MediaMTX does not have is a 404 too.
    await refused(api(server, 'GET', `/api/stream/${s.playback_key}/hls/nope_seg99.ts`), 404, 'Not found');
    await endLive(path);
  });
});

describe.skipIf(skipReason !== undefined)('WebRTC through the proxy', () => {
  const offer = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n';

  it('exchanges WHEP offers and session requests without revealing the MediaMTX path', async () => {
    const alice = await person();
    const s = await makeStream(server, alice);
    const base = `${server.url}/api/stream/${s.playback_key}/webrtc/whep`;
    const offline = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: offer,
    });
    expect(offline.status).toBe(404);
    const path = await goLive(s);
    const res = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: offer,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/sdp');
    expect(res.headers.get('link')).toContain('stun:');
    const location = res.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^/api/stream/${s.playback_key}/webrtc/whep/[0-9a-f-]{36}$`));
    expect(await res.text()).toContain('s=answer');
    const sent = origin.requests.filter((r) => r.method === 'POST' && r.path === `/${path}/whep`);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toBe(offer);
    expect(sent[0]!.authorization).toBe(internalAuthorization(server.deps.secretKey));

    const patch = await fetch(`${server.url}${location}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': '"origin-etag"' },
      body: 'a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n',
    });
    expect(patch.status).toBe(204);
    expect((await fetch(`${server.url}${location}`, { method: 'DELETE' })).status).toBe(200);
    const wrongType = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: offer,
    });
    expect(wrongType.status).toBe(415);
    expect(((await wrongType.json()) as Json).error).toBe('Content-Type must be application/sdp');
    const tooBig = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: 'a'.repeat(300_000),
    });
    expect(tooBig.status).toBe(413);
    await endLive(path);
  });

  it('publishes with WHIP by the publish key, or by the playback key for the signed-in owner', async () => {
    const alice = await person();
    const bob = await person();
    const s = await makeStream(server, alice);
    const whip = (key: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/api/stream/${key}/webrtc/whip`, {
        method: 'POST',
        headers: { 'content-type': 'application/sdp', ...headers },
        body: offer,
      });
    const byKey = await whip(s.stream_key);
    expect(byKey.status).toBe(201);
    expect(byKey.headers.get('location')).toMatch(/\/webrtc\/whip\/[0-9a-f-]{36}$/);
    expect(origin.requests.some((r) => r.method === 'POST' && r.path === `/live/${s.stream_key}/whip`)).toBe(
      true,
    );
    expect((await whip(s.playback_key)).status).toBe(404);
    expect((await whip(s.playback_key, bearer(bob.token))).status).toBe(404);
    expect((await whip(s.playback_key, bearer(alice.token))).status).toBe(201);
    expect((await whip('live_notakeynotakeynotakeynotakey')).status).toBe(404);
  });
});

describe.skipIf(skipReason !== undefined)('uploaded thumbnails', () => {
  const png = () => {
    const made = spawnSync(
      FFMPEG,
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-f',
        'lavfi',
        '-i',
        'color=c=red:s=64x48',
        '-frames:v',
        '1',
        '-f',
        'image2',
        '-c:v',
        'png',
        'pipe:1',
      ],
      { maxBuffer: 1024 * 1024 },
    );
    return made.stdout;
  };

  const upload = (token: string, id: number, data: Buffer, type = 'image/png', field = 'thumbnail') => {
    const form = new FormData();
    form.append(field, new Blob([data], { type }), 'thumb.png');
    return fetch(`${server.url}/api/streams/${id}/thumbnail`, {
      method: 'POST',
      headers: bearer(token),
      body: form,
    });
  };

  it('re-encodes a PNG to a JPEG, serves it while offline, and deletes it', async () => {
    const alice = await person();
    const bob = await person();
    const s = await makeStream(server, alice);
    const res = await upload(alice.token, s.id, png());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ success: true, content_type: 'image/jpeg' });
    expect((await ok(api(server, 'GET', `/api/streams/${s.id}`, { token: alice.token }))).has_thumbnail).toBe(
      true,
    );
    const thumb = await get(`/api/stream/${s.playback_key}/thumbnail.jpg`);
    expect(thumb.status).toBe(200);
    expect(isJpeg(Buffer.from(await thumb.arrayBuffer()))).toBe(true);
    expect((await upload(bob.token, s.id, png())).status).toBe(404);
    expect(await ok(api(server, 'DELETE', `/api/streams/${s.id}/thumbnail`, { token: alice.token }))).toEqual(
      { success: true },
    );
    await refused(
      api(server, 'GET', `/api/stream/${s.playback_key}/thumbnail.jpg`),
      404,
      'Thumbnail not found',
    );
  });

  it('refuses what is not a JPEG or PNG, what is too large, and what is no image at all', async () => {
    const alice = await person();
    const s = await makeStream(server, alice);
    const gif = Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(100)]);
    const check = async (res: Response, status: number, error: string) => {
      expect(res.status).toBe(status);
      expect(((await res.json()) as Json).error).toBe(error);
    };
    await check(
      await upload(alice.token, s.id, gif, 'image/gif'),
      400,
      'thumbnail must be a JPEG or PNG image',
    );
    const fake = Buffer.concat([png().subarray(0, 8), Buffer.alloc(2000, 7)]);
    await check(await upload(alice.token, s.id, fake), 400, 'thumbnail is not a valid JPEG or PNG image');
    const huge = Buffer.concat([png(), Buffer.alloc(2 * 1024 * 1024)]);
    await check(await upload(alice.token, s.id, huge), 413, 'thumbnail must be at most 2 MB');
    await check(await upload(alice.token, s.id, png(), 'image/png', 'image'), 400, 'thumbnail is required');
    const json = await fetch(`${server.url}/api/streams/${s.id}/thumbnail`, {
      method: 'POST',
      headers: { ...bearer(alice.token), 'content-type': 'application/json' },
      body: '{}',
    });
    await check(json, 415, 'Content-Type must be multipart/form-data');
    expect((await ok(api(server, 'GET', `/api/streams/${s.id}`, { token: alice.token }))).has_thumbnail).toBe(
      false,
    );
  });
});
