import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { joinChannel, openChat } from '../helpers/chat-client';
import { api } from '../helpers/identity';
import { closePortalClients } from '../helpers/portal-client';
import { ok, roomKit } from '../helpers/rooms';
import { startTestServer, type TestServer } from '../helpers/server';

// Voice signalling on /ws/chat (API.md §8): real sockets joining a channel's voice room, state on
// join, signals to one member only, mute/deafen/speaking, refusals, and cleanup when a socket drops.
// The state machine's own rules (capacity, cluster-wide state) are covered in the voice unit and
// integration tests.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { RATE_LIMIT_AUTH: '100000', WS_MESSAGES_PER_SECOND: '1000' } });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

const { person } = roomKit(() => server);

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

    a.send({ type: 'voice_signal', target_user_id: bob.id, signal: { type: 'offer', sdp: 'v=0' } });
    expect(await b.nextOf('voice_signal')).toEqual({
      type: 'voice_signal',
      from_user_id: alice.id,
      signal: { type: 'offer', sdp: 'v=0' },
    });
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
