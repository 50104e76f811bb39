import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { drain, joinChannel, openChat, publicChannel } from '../helpers/chat-client';
import { api } from '../helpers/identity';
import { closePortalClients, type PortalClient } from '../helpers/portal-client';
import { type Json, ok, type Person, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// Blocking (seed 002: "Blocked users' messages are hidden in chat") wherever a message can be
// read, over real HTTP and WebSockets: channel unread counts, search in channels and DMs, group
// DM history (REST and `dm_history`), and the conversation list's last message and unread count.

let server: TestServer;
const { person } = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({ env: { ...NO_REQUEST_LIMITS, CHAT_RATE_MESSAGES: '1000' } });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

let seq = 0;
const word = (label: string) => `${label}${process.pid}x${++seq}`;
type Chatter = Person & { ws: PortalClient };

async function chatter(): Promise<Chatter> {
  const p = await person();
  const ws = await openChat(server, p.token);
  await ws.nextOf('dm_conversations_list');
  return { ...p, ws };
}

const block = (who: Person, target: Person) =>
  ok(api(server, 'POST', `/api/blocks/${target.id}`, { token: who.token }));

async function say(from: Chatter, channel: string, message: string) {
  from.ws.send({ type: 'message', channel, message });
  for (;;) {
    const got = await from.ws.nextOf('message');
    if (got.message === message) return got;
  }
}

async function dm(from: Chatter, conversationId: number, message: string) {
  from.ws.send({ type: 'dm_message', conversation_id: conversationId, message });
  for (;;) {
    const got = await from.ws.nextOf('dm_message');
    if (got.message === message) return got;
  }
}

const search = async (who: Person, q: string) =>
  (await ok(api(server, 'GET', `/api/search?q=${q}`, { token: who.token }))).results as Json[];

describe('a blocked author is hidden from the blocker', () => {
  it('in channel unread counts and channel search', async () => {
    const admin = await person(2);
    const channel = await publicChannel(server, admin, `block-${process.pid}-${++seq}`);
    const [alice, bob, carol] = [await chatter(), await chatter(), await chatter()];
    for (const c of [alice, bob, carol]) await joinChannel(c.ws, channel.name);
    await block(alice, bob);
    const secret = word('marmot');
    await say(bob, channel.name, `first ${secret}`);
    await say(bob, channel.name, `second ${secret}`);
    await say(carol, channel.name, 'from carol');
    const unread = async (who: Person) =>
      (await ok(api(server, 'GET', '/api/chat/channels', { token: who.token }))).channels.find(
        (c: { id: number }) => c.id === channel.id,
      ).unread_count;
    expect(await unread(alice)).toBe(1);
    expect(await unread(carol)).toBe(2);
    expect(await search(alice, secret)).toEqual([]);
    expect((await search(carol, secret)).map((r) => r.user_id)).toEqual([bob.id, bob.id]);
  });

  it('in group DMs: history, dm_history, the list’s last message and unread count, and search', async () => {
    const [alice, bob, carol] = [await chatter(), await chatter(), await chatter()];
    await block(alice, bob);
    // A block between two members does not keep them out of a group someone else makes.
    carol.ws.send({ type: 'dm_create_group', user_ids: [alice.id, bob.id], name: 'mixed' });
    const id = ((await carol.ws.nextOf('dm_conversations_list')).conversations as Json[])[0]!.id as number;
    await dm(carol, id, 'carol speaks');
    const secret = word('tapir');
    await dm(bob, id, `bob says ${secret}`);

    const history = await ok(
      api(server, 'GET', `/api/dm/conversations/${id}/messages`, { token: alice.token }),
    );
    expect(history.messages.map((m: Json) => m.message)).toEqual(['carol speaks']);
    alice.ws.send({ type: 'dm_history', conversation_id: id });
    const frame = await alice.ws.nextOf('dm_history');
    expect((frame.messages as Json[]).map((m) => m.message)).toEqual(['carol speaks']);
    // Carol sees both, newest first.
    const hers = await ok(api(server, 'GET', `/api/dm/conversations/${id}/messages`, { token: carol.token }));
    expect(hers.messages.map((m: Json) => m.message)).toEqual([`bob says ${secret}`, 'carol speaks']);

    const listed = async (who: Person) =>
      (await ok(api(server, 'GET', '/api/dm/conversations', { token: who.token }))).conversations.find(
        (c: Json) => c.id === id,
      );
    expect(await listed(alice)).toMatchObject({
      last_message: { message: 'carol speaks', username: carol.username },
      unread_count: 1,
    });
    expect(await listed(carol)).toMatchObject({
      last_message: { message: `bob says ${secret}`, username: bob.username },
      unread_count: 1,
    });
    // Nor is the blocked author's DM pushed live to the blocker.
    expect((await drain(alice.ws)).filter((m) => m.type === 'dm_message' && m.user_id === bob.id)).toEqual(
      [],
    );

    expect(await search(alice, secret)).toEqual([]);
    expect((await search(carol, secret)).map((r) => [r.source, r.conversation_id])).toEqual([['dm', id]]);
  });
});
