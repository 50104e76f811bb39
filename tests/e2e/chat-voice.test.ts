import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { drain, expectError, joinChannel, openChat } from '../helpers/chat-client';
import { clusterSkipReason, startCluster } from '../helpers/cluster';
import { api } from '../helpers/identity';
import { closePortalClients, type PortalClient, waitFor } from '../helpers/portal-client';
import { type Json, ok, roomKit } from '../helpers/rooms';
import { startTestServer, type TestServer } from '../helpers/server';

// Voice signalling on /ws/chat (API.md §8): real sockets joining a channel's voice room, state on
// join, signals to one member only, mute/deafen/speaking (and its rate limit), leaving, refusals,
// cleanup when a socket drops, losing access (removed from a private channel, a channel made
// private or deleted, leaving a group DM), channel renames, and two nodes over Redis. The state
// machine's own rules (capacity, cluster-wide state) are covered in the voice unit and integration
// tests.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { RATE_LIMIT_AUTH: '100000', WS_MESSAGES_PER_SECOND: '1000' } });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

const { person } = roomKit(() => server);

/** An SDP offer from one member reaches the other, exactly as sent. */
async function offerReaches(from: PortalClient, to: PortalClient, fromId: number, toId: number) {
  from.send({ type: 'voice_signal', target_user_id: toId, signal: { type: 'offer', sdp: 'v=0' } });
  expect(await to.nextOf('voice_signal')).toEqual({
    type: 'voice_signal',
    from_user_id: fromId,
    signal: { type: 'offer', sdp: 'v=0' },
  });
}

describe('voice on /ws/chat', () => {
  it('joins the current channel, relays signals to the target only, and cleans up on disconnect', async () => {
    const [alice, bob, carol] = [await person(), await person(), await person()];
    const [a, b, c] = [
      await openChat(server, alice.token),
      await openChat(server, bob.token),
      await openChat(server, carol.token),
    ];
    for (const ws of [a, b, c]) await joinChannel(ws, 'general');

    a.send({ type: 'voice_join' });
    expect(await a.nextOf('voice_state')).toMatchObject({
      room: 'general',
      members: [{ user_id: alice.id, username: alice.username, muted: false, deafened: false }],
    });
    b.send({ type: 'voice_join', room: 'general' });
    expect((await b.nextOf('voice_state')).members).toHaveLength(2);
    expect(await a.nextOf('voice_user_joined')).toMatchObject({ room: 'general', user_id: bob.id });

    await offerReaches(a, b, alice.id, bob.id);
    // Carol is not in the voice room: signals to her are refused, and she hears nothing.
    a.send({ type: 'voice_signal', target_user_id: carol.id, signal: { candidate: 'x' } });
    expect((await a.nextOf('error')).message).toBe('That user is not in your voice room');
    c.send({ type: 'voice_mute', muted: true });
    expect((await c.nextOf('error')).message).toBe('You are not in a voice room');

    b.send({ type: 'voice_mute', muted: true });
    expect(await a.nextOf('voice_mute')).toMatchObject({ user_id: bob.id, muted: true });
    b.send({ type: 'voice_deafen', deafened: true });
    expect(await a.nextOf('voice_deafen')).toMatchObject({ user_id: bob.id, deafened: true });
    b.send({ type: 'voice_speaking', speaking: true });
    expect(await a.nextOf('voice_speaking')).toMatchObject({ user_id: bob.id, speaking: true });

    // Bad fields and rooms one may not join.
    a.send({ type: 'voice_signal', target_user_id: bob.id, signal: 'not an object' });
    expect((await a.nextOf('error')).message).toMatch(/signal/);
    c.send({ type: 'voice_join', room: 'dm:1' });
    expect((await c.nextOf('error')).message).toBe('You cannot join this voice room');

    await b.close();
    expect(await a.nextOf('voice_user_left')).toMatchObject({ room: 'general', user_id: bob.id });
  });

  it('refuses voice in a private channel the user cannot read', async () => {
    const admin = await person(2);
    const outsider = await person();
    await ok(
      api(server, 'POST', '/api/chat/channels', {
        token: admin.token,
        body: { name: 'staff-voice', visibility: 'private' },
      }),
    );
    const ws = await openChat(server, outsider.token);
    ws.send({ type: 'voice_join', room: 'staff-voice' });
    expect((await ws.nextOf('error')).message).toBe('You cannot join this voice room');
  });
});

let seq = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++seq}`;

/** Users with sockets in one voice room, all of them past their `voice_state`. */
async function inVoice(room: string, ...sockets: PortalClient[]) {
  for (const ws of sockets) {
    ws.send({ type: 'voice_join', room });
    await ws.nextOf('voice_state');
  }
}

const framesOf = async (ws: PortalClient, type: string) => (await drain(ws)).filter((m) => m.type === type);

describe('voice_leave, voice_deafen, voice_speaking', () => {
  it('leaves: the others get voice_user_left; leaving again is a no-op; bad fields are refused', async () => {
    const [alice, bob] = [await person(), await person()];
    const [a, b] = [await openChat(server, alice.token), await openChat(server, bob.token)];
    await inVoice('general', a, b);
    b.send({ type: 'voice_leave' });
    expect(await a.nextOf('voice_user_left')).toEqual({
      type: 'voice_user_left',
      room: 'general',
      user_id: bob.id,
    });
    // Nothing to leave: no error, nothing sent to anyone.
    b.send({ type: 'voice_leave' });
    expect(await drain(b)).toEqual([]);
    expect(await framesOf(a, 'voice_user_left')).toEqual([]);
    b.send({ type: 'voice_leave', room: 'general' });
    await expectError(b, /room/);
    // After leaving, signals to Bob are refused.
    a.send({ type: 'voice_signal', target_user_id: bob.id, signal: { type: 'offer' } });
    await expectError(a, 'That user is not in your voice room');
  });

  it('refuses voice_deafen outside voice and with a bad field', async () => {
    const alice = await person();
    const a = await openChat(server, alice.token);
    a.send({ type: 'voice_deafen', deafened: true });
    await expectError(a, 'You are not in a voice room');
    await inVoice('general', a);
    a.send({ type: 'voice_deafen', deafened: 'yes' });
    await expectError(a, /deafened/);
    a.send({ type: 'voice_deafen' });
    await expectError(a, /deafened/);
  });

  it('relays at most one voice_speaking per 100 ms and drops the rest', async () => {
    const [alice, bob] = [await person(), await person()];
    const [a, b] = [await openChat(server, alice.token), await openChat(server, bob.token)];
    await inVoice('general', a, b);
    for (let i = 0; i < 5; i++) b.send({ type: 'voice_speaking', speaking: i % 2 === 0 });
    await drain(b);
    const burst = await framesOf(a, 'voice_speaking');
    // The first one always goes through; the exact 100 ms rule is checked on a fake clock in
    // tests/unit/voice-signalling.test.ts. Here: a burst is thinned, whatever the machine's load.
    expect(burst[0]).toEqual({ type: 'voice_speaking', user_id: bob.id, speaking: true });
    expect(burst.length).toBeLessThan(5);
    await sleep(150);
    b.send({ type: 'voice_speaking', speaking: false });
    expect(await a.nextOf('voice_speaking')).toEqual({
      type: 'voice_speaking',
      user_id: bob.id,
      speaking: false,
    });
    // Dropped frames are silent: the speaker gets no error.
    expect(await framesOf(b, 'error')).toEqual([]);
    // A malformed one is refused like any other bad frame.
    b.send({ type: 'voice_speaking', speaking: 'loud' });
    await expectError(b, /speaking/);
    b.send({ type: 'voice_speaking' });
    await expectError(b, /speaking/);
  });
});

describe('losing access ends voice', () => {
  it('for a member removed from a private channel, and when a channel turns private', async () => {
    const owner = await person();
    const member = await person();
    const name = unique('vpriv');
    const made = await ok(api(server, 'POST', '/api/chat/channels', { token: owner.token, body: { name } }));
    const path = `/api/chat/channels/${made.id}/members`;
    await ok(api(server, 'POST', path, { token: owner.token, body: { user_id: member.id } }));
    const [o, m] = [await openChat(server, owner.token), await openChat(server, member.token)];
    await inVoice(name, o, m);
    await ok(api(server, 'DELETE', `${path}/${member.id}`, { token: owner.token }));
    expect(await o.nextOf('voice_user_left')).toEqual({
      type: 'voice_user_left',
      room: name,
      user_id: member.id,
    });
    expect(await m.nextOf('voice_user_left')).toEqual({
      type: 'voice_user_left',
      room: name,
      user_id: member.id,
    });
    o.send({ type: 'voice_signal', target_user_id: member.id, signal: { type: 'offer' } });
    await expectError(o, 'That user is not in your voice room');

    const admin = await person(2);
    const open = unique('vpublic');
    const pub = await ok(
      api(server, 'POST', '/api/chat/channels', { token: admin.token, body: { name: open } }),
    );
    const outsider = await person();
    const [ad, out] = [await openChat(server, admin.token), await openChat(server, outsider.token)];
    await inVoice(open, ad, out);
    await ok(
      api(server, 'PUT', `/api/chat/channels/${pub.id}`, {
        token: admin.token,
        body: { visibility: 'private' },
      }),
    );
    expect(await ad.nextOf('voice_user_left')).toMatchObject({ room: open, user_id: outsider.id });
    expect(await out.nextOf('voice_user_left')).toMatchObject({ room: open, user_id: outsider.id });
    // Admin+ keep access to private channels.
    expect(await framesOf(ad, 'voice_user_left')).toEqual([]);
  });

  it('for everyone when the channel is deleted, and for a user who leaves a group DM', async () => {
    const admin = await person(2);
    const name = unique('vgone');
    const made = await ok(api(server, 'POST', '/api/chat/channels', { token: admin.token, body: { name } }));
    const user = await person();
    const [ad, u] = [await openChat(server, admin.token), await openChat(server, user.token)];
    await inVoice(name, ad, u);
    await ok(api(server, 'DELETE', `/api/chat/channels/${made.id}`, { token: admin.token }));
    // Each member's session ends and each is told so (and whoever is still there hears of the other).
    for (const [ws, me] of [
      [ad, admin],
      [u, user],
    ] as const) {
      await waitFor(
        async () =>
          (await framesOf(ws, 'voice_user_left')).some((e) => e.user_id === me.id && e.room === name),
        'their own voice_user_left',
      );
    }
    ad.send({ type: 'voice_mute', muted: true });
    await expectError(ad, 'You are not in a voice room');

    const [alice, bob, carol] = [await person(), await person(), await person()];
    const group = await ok(
      api(server, 'POST', '/api/dm/conversations', {
        token: alice.token,
        body: { user_ids: [bob.id, carol.id], name: 'call' },
      }),
    );
    const room = `dm:${group.id}`;
    const sockets = [
      await openChat(server, alice.token),
      await openChat(server, bob.token),
      await openChat(server, carol.token),
    ];
    await inVoice(room, ...sockets);
    await ok(api(server, 'POST', `/api/dm/conversations/${group.id}/leave`, { token: carol.token }));
    for (const ws of sockets) {
      expect(await ws.nextOf('voice_user_left')).toEqual({
        type: 'voice_user_left',
        room,
        user_id: carol.id,
      });
    }
    sockets[2]!.send({ type: 'voice_join', room });
    await expectError(sockets[2]!, 'You cannot join this voice room');
  });
});

describe('channel renames', () => {
  it('keep sockets and voice rooms on the channel: new name for user_left and voice_join', async () => {
    const admin = await person(2);
    const name = unique('vold');
    const made = await ok(api(server, 'POST', '/api/chat/channels', { token: admin.token, body: { name } }));
    const [alice, bob, carol] = [await person(), await person(), await person()];
    const [a, b, c] = [
      await openChat(server, alice.token),
      await openChat(server, bob.token),
      await openChat(server, carol.token),
    ];
    for (const ws of [a, b, c]) await joinChannel(ws, name);
    a.send({ type: 'voice_join' });
    await a.nextOf('voice_state');
    const renamed = unique('vnew');
    await ok(
      api(server, 'PUT', `/api/chat/channels/${made.id}`, { token: admin.token, body: { name: renamed } }),
    );
    for (const ws of [a, b, c]) await ws.nextOf('channel_renamed');
    // Bob joins voice without a room: the channel he joined, by its new name, with Alice in it.
    b.send({ type: 'voice_join' });
    const state = await b.nextOf('voice_state');
    expect(state.room).toBe(renamed);
    expect((state.members as Json[]).map((m) => m.user_id).sort()).toEqual([alice.id, bob.id].sort());
    expect(await a.nextOf('voice_user_joined')).toMatchObject({ room: renamed, user_id: bob.id });
    a.send({ type: 'voice_leave' });
    expect(await b.nextOf('voice_user_left')).toEqual({
      type: 'voice_user_left',
      room: renamed,
      user_id: alice.id,
    });
    await c.close();
    expect(await a.nextOf('user_left')).toMatchObject({ channel: renamed, username: carol.username });
  });
});

const skip = await clusterSkipReason();

describe.skipIf(skip !== undefined)(`voice on two nodes (${skip ?? 'PostgreSQL + Redis'})`, () => {
  it('relays state, signals, mute and leaving between sockets on different nodes', async () => {
    const cluster = await startCluster(2, { WS_MESSAGES_PER_SECOND: '1000' });
    try {
      const [nodeA, nodeB] = cluster.nodes;
      const kit = roomKit(() => nodeA as TestServer);
      const [alice, bob] = [await kit.person(), await kit.person()];
      const a = await openChat(nodeA!, alice.token);
      const b = await openChat(nodeB!, bob.token);
      await inVoice('general', a);
      b.send({ type: 'voice_join', room: 'general' });
      const state = await b.nextOf('voice_state');
      expect((state.members as Json[]).map((m) => m.user_id).sort()).toEqual([alice.id, bob.id].sort());
      expect(await a.nextOf('voice_user_joined')).toMatchObject({ room: 'general', user_id: bob.id });
      await offerReaches(a, b, alice.id, bob.id);
      b.send({ type: 'voice_signal', target_user_id: alice.id, signal: { type: 'answer' } });
      expect((await a.nextOf('voice_signal')).from_user_id).toBe(bob.id);
      b.send({ type: 'voice_mute', muted: true });
      expect(await a.nextOf('voice_mute')).toEqual({ type: 'voice_mute', user_id: bob.id, muted: true });
      await b.close();
      expect(await a.nextOf('voice_user_left')).toEqual({
        type: 'voice_user_left',
        room: 'general',
        user_id: bob.id,
      });
    } finally {
      await closePortalClients();
      await cluster.stop();
    }
  }, 60_000);
});
