import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { drain, expectError, joinChannel, openChat } from '../helpers/chat-client';
import { dumpAllTables } from '../helpers/database';
import { api } from '../helpers/identity';
import { closePortalClients } from '../helpers/portal-client';
import { ISO, type Json, ok, refused, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { HOOK_SECRET, livePath, makeStream, mediamtx } from '../helpers/streams';

// Streams of API.md §7 over REST (seed 002 "User Streams", "REST API", "Stream Moderation"): the
// keys and what each caller sees, the stream's own chat channel, bans enforced in that channel,
// follows, limits and refusals, and no publish key in a database dump.

let server: TestServer;
const { person } = roomKit(() => server);
const hooks = mediamtx(() => server);

beforeAll(async () => {
  server = await startTestServer({
    env: {
      ...NO_REQUEST_LIMITS,
      MEDIAMTX_HOOK_SECRET: HOOK_SECRET,
      STREAMS_PER_USER: '3',
      PUBLIC_URL: 'https://portal.example.com',
      STREAM_RTMPS_URL: 'rtmps://stream.example.com:1936/live',
    },
  });
});
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  await closePortalClients();
});

describe('streams', () => {
  it('creates a stream with a publish key, a playback key and its own chat channel', async () => {
    const alice = await person();
    const s = await makeStream(server, alice, { title: 'My Stream', description: 'hello' });
    expect(s).toMatchObject({
      title: 'My Stream',
      description: 'hello',
      is_live: 0,
      is_public: true,
      rtmp_enabled: false,
      viewer_count: 0,
      user_id: alice.id,
      username: alice.username,
      has_thumbnail: false,
    });
    expect(s.stream_key).toMatch(/^live_[A-Za-z0-9_-]{32}$/);
    expect(s.playback_key).toMatch(/^pub_[A-Za-z0-9_-]{24}$/);
    expect(s.playback_urls).toEqual({
      hls: `https://portal.example.com/api/stream/${s.playback_key}/hls/index.m3u8`,
      webrtc: `https://portal.example.com/api/stream/${s.playback_key}/webrtc/whep`,
    });
    expect(s.thumbnail_url).toBe(`https://portal.example.com/api/stream/${s.playback_key}/thumbnail.jpg`);
    expect(s.publish_urls).toEqual({
      rtmps: 'rtmps://stream.example.com:1936/live',
      rtmp: null,
      whip: `https://portal.example.com/api/stream/${s.stream_key}/webrtc/whip`,
    });
    expect(s.created_at).toMatch(ISO);
    expect(s.started_at).toBeNull();

    // The channel exists, is flagged, and the owner moderates it.
    const list = await ok(api(server, 'GET', '/api/chat/channels?limit=100', { token: alice.token }));
    const channel = (list.channels as Json[]).find((c) => c.id === s.chat_channel_id);
    expect(channel).toMatchObject({
      name: `stream-${s.id}`,
      is_stream_channel: true,
      visibility: 'public',
      description: 'My Stream',
    });
    const members = await ok(
      api(server, 'GET', `/api/chat/channels/${s.chat_channel_id}/members`, { token: alice.token }),
    );
    expect(JSON.stringify(members)).toContain(alice.username);
  });

  it('shows the publish key to the owner only; others see playback URLs that never contain it', async () => {
    const alice = await person();
    const bob = await person();
    const s = await makeStream(server, alice);
    const seen = await ok(api(server, 'GET', `/api/streams/${s.id}`, { token: bob.token }));
    expect(seen.stream_key).toBeUndefined();
    expect(seen.publish_urls).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(s.stream_key);
    const pub = await ok(api(server, 'GET', '/api/streams/public?limit=100', { token: bob.token }));
    expect(JSON.stringify(pub)).not.toContain(s.stream_key);
    expect((pub.streams as Json[]).some((x) => x.id === s.id)).toBe(true);
    const mine = await ok(api(server, 'GET', '/api/streams', { token: alice.token }));
    expect((mine.streams as Json[]).map((x) => x.id)).toContain(s.id);
    expect((mine.streams as Json[]).find((x) => x.id === s.id)!.stream_key).toBe(s.stream_key);
    const bobs = await ok(api(server, 'GET', '/api/streams', { token: bob.token }));
    expect(bobs.streams).toEqual([]);
  });

  it("keeps others' private streams out of sight: 404 on read, change, delete, keys, bans, follow", async () => {
    const alice = await person();
    const bob = await person();
    const priv = await makeStream(server, alice, { is_public: false });
    const pub = await makeStream(server, alice);
    const pubList = await ok(api(server, 'GET', '/api/streams/public?limit=100', { token: bob.token }));
    expect((pubList.streams as Json[]).some((x) => x.id === priv.id)).toBe(false);
    await refused(
      api(server, 'GET', `/api/streams/${priv.id}`, { token: bob.token }),
      404,
      'Stream not found',
    );
    await refused(
      api(server, 'POST', `/api/streams/${priv.id}/follow`, { token: bob.token }),
      404,
      'Stream not found',
    );
    for (const id of [priv.id, pub.id]) {
      await refused(
        api(server, 'PUT', `/api/streams/${id}`, { token: bob.token, body: { title: 'x' } }),
        404,
        'Stream not found',
      );
      await refused(
        api(server, 'DELETE', `/api/streams/${id}`, { token: bob.token }),
        404,
        'Stream not found',
      );
      await refused(
        api(server, 'POST', `/api/streams/${id}/regenerate-key`, { token: bob.token }),
        404,
        'Stream not found',
      );
      await refused(
        api(server, 'POST', `/api/streams/${id}/rtmp-token`, { token: bob.token }),
        404,
        'Stream not found',
      );
      await refused(
        api(server, 'GET', `/api/streams/${id}/bans`, { token: bob.token }),
        404,
        'Stream not found',
      );
      await refused(
        api(server, 'POST', `/api/streams/${id}/bans`, { token: bob.token, body: { user_id: alice.id } }),
        404,
        'Stream not found',
      );
    }
    await refused(api(server, 'GET', '/api/streams/999999', { token: bob.token }), 404, 'Stream not found');
    // The private stream's channel is private: bob cannot read it.
    await refused(
      api(server, 'GET', `/api/chat/channels/${priv.chat_channel_id}/messages`, { token: bob.token }),
      404,
      'Channel not found',
    );
  });

  it('refuses bad input with a sentence naming the field', async () => {
    const alice = await person();
    await refused(
      api(server, 'POST', '/api/streams', { token: alice.token, body: {} }),
      400,
      'title is required',
    );
    await refused(
      api(server, 'POST', '/api/streams', { token: alice.token, body: { title: '   ' } }),
      400,
      'title is required',
    );
    await refused(
      api(server, 'POST', '/api/streams', { token: alice.token, body: { title: 'x'.repeat(101) } }),
      400,
      'title must be at most 100 characters',
    );
    await refused(
      api(server, 'POST', '/api/streams', { token: alice.token, body: { title: 't', is_public: 'yes' } }),
      400,
      'is_public must be a boolean',
    );
    const s = await makeStream(server, alice);
    await refused(
      api(server, 'PUT', `/api/streams/${s.id}`, { token: alice.token, body: {} }),
      400,
      'At least one of title, description, is_public or rtmp_enabled is required',
    );
    await refused(api(server, 'GET', '/api/streams/abc', { token: alice.token }), 400, /id/);
    await refused(
      api(server, 'GET', '/api/streams/public?limit=1000', { token: alice.token }),
      400,
      'limit must be at most 100',
    );
    await refused(api(server, 'GET', '/api/streams'), 401, 'Authentication required');
    // Nothing was lost or changed by the refusals.
    const again = await ok(api(server, 'GET', `/api/streams/${s.id}`, { token: alice.token }));
    expect(again.title).toBe('Test stream');
  });

  it('updates title, visibility and RTMP; the channel follows the title and visibility', async () => {
    const alice = await person();
    const bob = await person();
    const s = await makeStream(server, alice);
    const upd = await ok(
      api(server, 'PUT', `/api/streams/${s.id}`, {
        token: alice.token,
        body: { title: 'Renamed', is_public: false, rtmp_enabled: true },
      }),
    );
    expect(upd).toMatchObject({ title: 'Renamed', is_public: false, rtmp_enabled: true });
    const channels = await ok(api(server, 'GET', '/api/chat/channels?limit=100', { token: alice.token }));
    expect((channels.channels as Json[]).find((c) => c.id === s.chat_channel_id)).toMatchObject({
      description: 'Renamed',
      visibility: 'private',
    });
    await refused(api(server, 'GET', `/api/streams/${s.id}`, { token: bob.token }), 404, 'Stream not found');
    // The channel's visibility is the stream's: the channel API cannot change it or delete it.
    await refused(
      api(server, 'PUT', `/api/chat/channels/${s.chat_channel_id}`, {
        token: alice.token,
        body: { visibility: 'public' },
      }),
      400,
      "A stream channel follows its stream's visibility",
    );
    await refused(
      api(server, 'DELETE', `/api/chat/channels/${s.chat_channel_id}`, { token: alice.token }),
      400,
      /deleted with its stream/,
    );
  });

  it('regenerates the publish key: the old one stops working at once', async () => {
    const alice = await person();
    const s = await makeStream(server, alice);
    await ok(hooks.auth({ action: 'publish', path: livePath(s.stream_key) }));
    const fresh = await ok(
      api(server, 'POST', `/api/streams/${s.id}/regenerate-key`, { token: alice.token }),
    );
    expect(fresh.stream_key).toMatch(/^live_/);
    expect(fresh.stream_key).not.toBe(s.stream_key);
    expect(fresh.playback_key).toBe(s.playback_key);
    await refused(hooks.auth({ action: 'publish', path: livePath(s.stream_key) }), 401, 'Invalid stream key');
    await ok(hooks.auth({ action: 'publish', path: livePath(fresh.stream_key) }));
  });

  it('deletes a stream with its chat channel', async () => {
    const alice = await person();
    const s = await makeStream(server, alice);
    expect(await ok(api(server, 'DELETE', `/api/streams/${s.id}`, { token: alice.token }))).toEqual({
      success: true,
    });
    await refused(
      api(server, 'GET', `/api/streams/${s.id}`, { token: alice.token }),
      404,
      'Stream not found',
    );
    await refused(
      api(server, 'GET', `/api/chat/channels/${s.chat_channel_id}/messages`, { token: alice.token }),
      404,
      'Channel not found',
    );
    await refused(hooks.auth({ action: 'publish', path: livePath(s.stream_key) }), 401, 'Invalid stream key');
  });

  it('caps streams per user (STREAMS_PER_USER); private channels are not used up by streams', async () => {
    const carol = await person();
    for (let i = 0; i < 3; i++) await makeStream(server, carol, { title: `s${i}` });
    await refused(
      api(server, 'POST', '/api/streams', { token: carol.token, body: { title: 'one more' } }),
      403,
      'You can have at most 3 streams',
    );
    await ok(
      api(server, 'POST', '/api/chat/channels', { token: carol.token, body: { name: `c-${carol.id}` } }),
    );
  });
});

describe('stream bans', () => {
  it("keeps a banned user out of the stream's chat until unbanned", async () => {
    const alice = await person();
    const bob = await person();
    const s = await makeStream(server, alice);
    const channel = `stream-${s.id}`;
    const bobChat = await openChat(server, bob.token);
    await joinChannel(bobChat, channel);
    bobChat.send({ type: 'message', channel, message: 'hi before the ban' });
    await bobChat.nextOf('message');

    const ban = await ok(
      api(server, 'POST', `/api/streams/${s.id}/bans`, {
        token: alice.token,
        body: { user_id: bob.id, reason: 'spam' },
      }),
    );
    expect(ban).toMatchObject({
      user_id: bob.id,
      username: bob.username,
      reason: 'spam',
      banned_by: alice.id,
    });
    // Bob's open socket leaves the channel at once.
    expect(await bobChat.nextOf('channel_deleted')).toMatchObject({ channel });
    const list = await ok(api(server, 'GET', `/api/streams/${s.id}/bans`, { token: alice.token }));
    expect((list.bans as Json[]).map((b) => b.user_id)).toEqual([bob.id]);

    bobChat.send({ type: 'join', channel });
    await expectError(bobChat, "You are banned from this stream's chat");
    bobChat.send({ type: 'message', channel, message: 'after the ban' });
    await expectError(bobChat, "You are banned from this stream's chat");
    await refused(
      api(server, 'GET', `/api/chat/channels/${s.chat_channel_id}/messages`, { token: bob.token }),
      403,
      "You are banned from this stream's chat",
    );
    // Watching is not chatting: the stream itself stays visible to him.
    await ok(api(server, 'GET', `/api/streams/${s.id}`, { token: bob.token }));

    expect(
      await ok(api(server, 'DELETE', `/api/streams/${s.id}/bans/${bob.id}`, { token: alice.token })),
    ).toEqual({ success: true });
    await joinChannel(bobChat, channel);
    bobChat.send({ type: 'message', channel, message: 'back again' });
    expect((await bobChat.nextOf('message')).message).toBe('back again');
    expect((await drain(bobChat)).some((m) => m.type === 'error')).toBe(false);
  });

  it('refuses bans of oneself, of unknown users and of admins, and unbans of nobody', async () => {
    const alice = await person();
    const admin = await person(2);
    const s = await makeStream(server, alice);
    const bans = `/api/streams/${s.id}/bans`;
    await refused(
      api(server, 'POST', bans, { token: alice.token, body: { user_id: alice.id } }),
      400,
      'You cannot ban yourself',
    );
    await refused(
      api(server, 'POST', bans, { token: alice.token, body: { user_id: 99999999 } }),
      404,
      'User not found',
    );
    await refused(
      api(server, 'POST', bans, { token: alice.token, body: { user_id: admin.id } }),
      403,
      'Admins cannot be banned from a stream',
    );
    await refused(api(server, 'POST', bans, { token: alice.token, body: {} }), 400, 'user_id is required');
    await refused(api(server, 'DELETE', `${bans}/${admin.id}`, { token: alice.token }), 404, 'Ban not found');
    expect((await ok(api(server, 'GET', bans, { token: alice.token }))).bans).toEqual([]);
  });
});

describe('follows', () => {
  it('follows and unfollows public streams; lists what one follows', async () => {
    const alice = await person();
    const bob = await person();
    const s = await makeStream(server, alice);
    expect(await ok(api(server, 'POST', `/api/streams/${s.id}/follow`, { token: bob.token }))).toEqual({
      success: true,
      following: true,
    });
    expect(await ok(api(server, 'POST', `/api/streams/${s.id}/follow`, { token: bob.token }))).toEqual({
      success: true,
      following: true,
    });
    const following = await ok(api(server, 'GET', '/api/streams/following', { token: bob.token }));
    expect((following.streams as Json[]).map((x) => x.id)).toEqual([s.id]);
    await refused(
      api(server, 'POST', `/api/streams/${s.id}/follow`, { token: alice.token }),
      400,
      /your own streams/,
    );
    expect(await ok(api(server, 'DELETE', `/api/streams/${s.id}/follow`, { token: bob.token }))).toEqual({
      success: true,
      following: false,
    });
    expect((await ok(api(server, 'GET', '/api/streams/following', { token: bob.token }))).streams).toEqual(
      [],
    );
  });
});

describe('secrets at rest', () => {
  it('a database dump holds neither publish keys nor RTMP tokens in plaintext', async () => {
    const alice = await person();
    const s = await makeStream(server, alice);
    await hooks.ready(livePath(s.stream_key));
    const dump = await dumpAllTables(server.deps.database);
    expect(dump).toContain(s.playback_key);
    expect(dump).not.toContain(s.stream_key);
    expect(dump).not.toContain(s.stream_key.slice(5));
    await hooks.notReady(livePath(s.stream_key));
  });
});
