import { setTimeout as sleep } from 'node:timers/promises';
import { eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dmMessages } from '../../src/db/schema';
import { drain, expectError, openChat } from '../helpers/chat-client';
import { clusterSkipReason, startCluster } from '../helpers/cluster';
import { dumpAllTables } from '../helpers/database';
import { api } from '../helpers/identity';
import {
  closePortalClients,
  openPortal,
  type PortalClient,
  portalUrl,
  waitFor,
} from '../helpers/portal-client';
import { lateInWindow } from '../helpers/rate-window';
import { ISO, type Json, ok, type Person, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// The DM half of /ws/chat (seed 002 "DM Client Messages" / "DM Server Messages") over real
// WebSockets: every dm_* client message with a success and a refusal, offline notifications,
// search, voice rooms, encryption at rest, and delivery from one node to another.

let server: TestServer;
const { person } = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({
    env: NO_REQUEST_LIMITS,
  });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

const db = () => server.deps.database.db;
type Chatter = Person & { ws: PortalClient };

/** A user with a /ws/chat socket whose connect-time `dm_conversations_list` was taken. */
async function chatter(level = 0): Promise<Chatter> {
  const p = await person(level);
  const ws = await openChat(server, p.token);
  await ws.nextOf('dm_conversations_list');
  return { ...p, ws };
}

async function conversation(a: Person, b: Person): Promise<number> {
  const made = await ok(
    api(server, 'POST', '/api/dm/conversations', { token: a.token, body: { user_id: b.id } }),
  );
  return made.id as number;
}

async function pair() {
  const alice = await chatter();
  const bob = await chatter();
  return { alice, bob, id: await conversation(alice, bob) };
}

async function send(from: Chatter, id: number, message: string) {
  from.ws.send({ type: 'dm_message', conversation_id: id, message });
  return from.ws.nextOf('dm_message');
}

describe('connecting and opening', () => {
  it('sends dm_conversations_list on connect, and dm_open answers with the conversation', async () => {
    const alice = await person();
    const bob = await person();
    const id = await conversation(alice, bob);
    const ws = await openChat(server, alice.token);
    const list = await ws.nextOf('dm_conversations_list');
    expect((list.conversations as Json[]).map((c) => c.id)).toEqual([id]);
    ws.send({ type: 'dm_open', conversation_id: id });
    const opened = await ws.nextOf('dm_conversation_opened');
    expect(opened.conversation).toMatchObject({ id, type: 'direct', muted: false });
    expect((opened.conversation as Json).participants[1]).toMatchObject({ user_id: bob.id, role: 'user' });

    const outsider = await chatter();
    outsider.ws.send({ type: 'dm_open', conversation_id: id });
    await expectError(outsider.ws, 'Conversation not found');
    outsider.ws.send({ type: 'dm_open', conversation_id: 'one' });
    await expectError(outsider.ws, /conversation_id/);
  });
});

describe('dm_create_group', () => {
  it('sends dm_conversations_list to the creator and the new conversation to every member', async () => {
    const alice = await chatter();
    const bob = await chatter();
    const carol = await chatter();
    alice.ws.send({ type: 'dm_create_group', user_ids: [bob.id, carol.id], name: 'Project Team' });
    const group = {
      type: 'group',
      name: 'Project Team',
      participants: [{ user_id: alice.id }, { user_id: bob.id }, { user_id: carol.id }],
      unread_count: 0,
      muted: false,
    };
    const list = await alice.ws.nextOf('dm_conversations_list');
    expect((list.conversations as Json[])[0]).toMatchObject(group);
    for (const p of [bob, carol]) {
      expect((await p.ws.nextOf('dm_conversation_updated')).conversation).toMatchObject(group);
      // Targeted: no rebuilt list for them.
      expect((await drain(p.ws)).filter((m) => m.type === 'dm_conversations_list')).toEqual([]);
    }
  });

  it('refuses an 11th participant, blocked users and bad fields', async () => {
    const alice = await chatter();
    const others: Person[] = [];
    for (let i = 0; i < 10; i++) others.push(await person());
    alice.ws.send({ type: 'dm_create_group', user_ids: others.map((p) => p.id), name: 'Big' });
    await expectError(alice.ws, 'A conversation can have at most 10 participants');
    await ok(api(server, 'POST', `/api/blocks/${alice.id}`, { token: others[0]!.token }));
    alice.ws.send({ type: 'dm_create_group', user_ids: [others[0]!.id, others[1]!.id], name: 'G' });
    await expectError(alice.ws, 'You cannot message this user');
    alice.ws.send({ type: 'dm_create_group', user_ids: [], name: 'G' });
    await expectError(alice.ws, /user_ids/);
  });
});

describe('membership changes', () => {
  it('announces leaving and adding participants to everyone concerned', async () => {
    const [alice, bob, carol, dave] = [await chatter(), await chatter(), await chatter(), await chatter()];
    alice.ws.send({ type: 'dm_create_group', user_ids: [bob.id, carol.id], name: 'Crew' });
    const id = ((await alice.ws.nextOf('dm_conversations_list')).conversations as Json[])[0]!.id as number;
    for (const p of [bob, carol]) await p.ws.nextOf('dm_conversation_updated');
    const ids = (c: Json) => (c.participants as Json[]).map((p) => p.user_id);

    // Leaving: the others get the conversation without the leaver; the leaver's sockets drop it.
    await ok(api(server, 'POST', `/api/dm/conversations/${id}/leave`, { token: carol.token }));
    for (const p of [alice, bob]) {
      const update = await p.ws.nextOf('dm_conversation_updated');
      expect(update.conversation).toMatchObject({ id, name: 'Crew' });
      expect(ids(update.conversation as Json)).toEqual([alice.id, bob.id]);
    }
    expect(await carol.ws.nextOf('dm_conversation_removed')).toEqual({
      type: 'dm_conversation_removed',
      conversation_id: id,
    });

    // Adding: the new participant and the existing ones all get the new participant list.
    await ok(
      api(server, 'POST', `/api/dm/conversations/${id}/participants`, {
        token: bob.token,
        body: { user_ids: [dave.id] },
      }),
    );
    for (const p of [alice, bob, dave]) {
      const update = await p.ws.nextOf('dm_conversation_updated');
      expect(ids(update.conversation as Json)).toEqual([alice.id, bob.id, dave.id]);
    }
    expect((await drain(carol.ws)).filter((m) => m.type === 'dm_conversation_updated')).toEqual([]);
  });
});

describe('dm_message', () => {
  it('reaches every participant with the seed fields, and is stored sealed', async () => {
    const { alice, bob, id } = await pair();
    const word = `zebra${process.pid}`;
    alice.ws.send({ type: 'dm_message', conversation_id: id, message: `Hello ${word}!` });
    for (const p of [alice, bob]) {
      expect(await p.ws.nextOf('dm_message')).toEqual({
        type: 'dm_message',
        conversation_id: id,
        id: expect.any(Number),
        user_id: alice.id,
        username: alice.username,
        nickname: null,
        avatar: { color: expect.any(String), emoji: null, initials: expect.anything() },
        message: `Hello ${word}!`,
        reply_to: null,
        reactions: [],
        edited_at: null,
        created_at: expect.stringMatching(ISO),
      });
    }
    const dump = await dumpAllTables(server.deps.database);
    expect(dump).toContain('dm_messages');
    expect(dump).not.toContain(word);
  });

  it('refuses outsiders, blocked pairs, empty and over-long text, and foreign reply_to', async () => {
    const { alice, bob, id } = await pair();
    const outsider = await chatter();
    outsider.ws.send({ type: 'dm_message', conversation_id: id, message: 'hi' });
    await expectError(outsider.ws, 'Conversation not found');
    alice.ws.send({ type: 'dm_message', conversation_id: id, message: 'x'.repeat(4001) });
    await expectError(alice.ws, 'message must be at most 4000 characters');
    alice.ws.send({ type: 'dm_message', conversation_id: id, message: '  ' });
    await expectError(alice.ws, 'message is required');
    alice.ws.send({ type: 'dm_message', conversation_id: id, message: 'r', reply_to: 2_000_000_000 });
    await expectError(alice.ws, 'reply_to must be a message in this conversation');
    alice.ws.send({
      type: 'dm_message',
      conversation_id: id,
      message: 'img',
      image_url: 'https://evil.example/x.png',
    });
    await expectError(alice.ws, /^image_url must be an upload/);
    bob.ws.send({ type: 'block_user', user_id: alice.id });
    await bob.ws.nextOf('user_blocked');
    alice.ws.send({ type: 'dm_message', conversation_id: id, message: 'still there?' });
    await expectError(alice.ws, 'You cannot message this user');
    bob.ws.send({ type: 'dm_message', conversation_id: id, message: 'nope' });
    await expectError(bob.ws, 'You cannot message this user');
  });

  it('allows 5 messages per 5 seconds, then answers with the exact error', async () => {
    const { alice, id } = await pair();
    for (let i = 0; i < 6; i++)
      alice.ws.send({ type: 'dm_message', conversation_id: id, message: `burst ${i}` });
    expect(await alice.ws.nextOf('error')).toEqual({
      type: 'error',
      message: "Slow down! You're sending messages too fast.",
    });
    // Frames are handled in order: the five were stored before the sixth was refused.
    const stored = await db().select().from(dmMessages).where(eq(dmMessages.conversationId, id));
    expect(stored).toHaveLength(5);
    const texts = stored.sort((a, b) => a.id - b.id).map((m) => server.deps.secretBox.decrypt(m.text));
    expect(texts).toEqual([0, 1, 2, 3, 4].map((i) => `burst ${i}`));
  });
});

describe('the DM send limit', () => {
  it('shares the sliding chat budget of CHAT_RATE_* with channels, across an epoch boundary', async () => {
    const { alice, id } = await pair();
    const ws = await openChat(server, alice.token);
    await ws.nextOf('dm_conversations_list');
    ws.send({ type: 'join', channel: 'general' });
    await ws.nextOf('users');
    const boundary = await lateInWindow(5_000, 1_500);
    for (let i = 0; i < 3; i++) await send(alice, id, `dm ${i}`);
    for (let i = 0; i < 2; i++) {
      ws.send({ type: 'message', channel: 'general', message: `channel ${i}` });
      await ws.nextOf('message');
    }
    await boundary();
    alice.ws.send({ type: 'dm_message', conversation_id: id, message: 'one too many' });
    await expectError(alice.ws, "Slow down! You're sending messages too fast.");
  });

  it('follows CHAT_RATE_MESSAGES', async () => {
    const strict = await startTestServer({ env: { ...NO_REQUEST_LIMITS, CHAT_RATE_MESSAGES: '2' } });
    try {
      const kit = roomKit(() => strict);
      const [a, b] = [await kit.person(), await kit.person()];
      const made = await ok(
        api(strict, 'POST', '/api/dm/conversations', { token: a.token, body: { user_id: b.id } }),
      );
      const ws = await openChat(strict, a.token);
      for (let i = 0; i < 3; i++) ws.send({ type: 'dm_message', conversation_id: made.id, message: `m${i}` });
      await ws.nextOf('dm_message');
      await ws.nextOf('dm_message');
      await expectError(ws, "Slow down! You're sending messages too fast.");
    } finally {
      await closePortalClients();
      await strict.close();
    }
  });
});

describe('dm_typing, dm_delete, dm_react, dm_edit', () => {
  it('types to the others only', async () => {
    const { alice, bob, id } = await pair();
    alice.ws.send({ type: 'dm_typing', conversation_id: id });
    expect(await bob.ws.nextOf('dm_typing')).toEqual({
      type: 'dm_typing',
      conversation_id: id,
      user_id: alice.id,
      username: alice.username,
    });
    expect((await drain(alice.ws)).filter((m) => m.type === 'dm_typing')).toEqual([]);
    const outsider = await chatter();
    outsider.ws.send({ type: 'dm_typing', conversation_id: id });
    await expectError(outsider.ws, 'Conversation not found');
  });

  it('deletes own messages only', async () => {
    const { alice, bob, id } = await pair();
    const m = await send(alice, id, 'oops');
    await bob.ws.nextOf('dm_message');
    bob.ws.send({ type: 'dm_delete', conversation_id: id, message_id: m.id });
    await expectError(bob.ws, 'You can only delete your own messages');
    alice.ws.send({ type: 'dm_delete', conversation_id: id, message_id: m.id });
    for (const p of [alice, bob]) {
      expect(await p.ws.nextOf('dm_message_deleted')).toEqual({
        type: 'dm_message_deleted',
        conversation_id: id,
        message_id: m.id,
      });
    }
    alice.ws.send({ type: 'dm_delete', conversation_id: id, message_id: m.id });
    await expectError(alice.ws, 'Message not found');
  });

  it('toggles reactions', async () => {
    const { alice, bob, id } = await pair();
    const m = await send(alice, id, 'react to me');
    bob.ws.send({ type: 'dm_react', conversation_id: id, message_id: m.id, emoji: '👍' });
    const added = {
      type: 'dm_reaction_update',
      conversation_id: id,
      message_id: m.id,
      emoji: '👍',
      action: 'add',
      user_id: bob.id,
      username: bob.username,
    };
    expect(await alice.ws.nextOf('dm_reaction_update')).toEqual(added);
    bob.ws.send({ type: 'dm_react', conversation_id: id, message_id: m.id, emoji: '👍' });
    expect(await alice.ws.nextOf('dm_reaction_update')).toEqual({ ...added, action: 'remove' });
    bob.ws.send({ type: 'dm_react', conversation_id: id, message_id: m.id, emoji: 'two words' });
    await expectError(bob.ws, 'emoji must not contain spaces');
    const outsider = await chatter();
    outsider.ws.send({ type: 'dm_react', conversation_id: id, message_id: m.id, emoji: '👍' });
    await expectError(outsider.ws, 'Conversation not found');
  });

  it('edits own messages within 5 minutes', async () => {
    const { alice, bob, id } = await pair();
    const m = await send(alice, id, 'draft');
    alice.ws.send({ type: 'dm_edit', conversation_id: id, message_id: m.id, message: 'final' });
    expect(await bob.ws.nextOf('dm_message_edited')).toEqual({
      type: 'dm_message_edited',
      conversation_id: id,
      message_id: m.id,
      new_text: 'final',
      edited_at: expect.stringMatching(ISO),
    });
    bob.ws.send({ type: 'dm_edit', conversation_id: id, message_id: m.id, message: 'hijack' });
    await expectError(bob.ws, 'You can only edit your own messages');
    await db()
      .update(dmMessages)
      .set({ createdAt: sql`now() - interval '6 minutes'` })
      .where(eq(dmMessages.id, m.id as number));
    alice.ws.send({ type: 'dm_edit', conversation_id: id, message_id: m.id, message: 'too late' });
    await expectError(alice.ws, 'Messages can only be edited within 5 minutes');
    const page = await ok(api(server, 'GET', `/api/dm/conversations/${id}/messages`, { token: bob.token }));
    expect(page.messages[0]).toMatchObject({ message: 'final', edited_at: expect.stringMatching(ISO) });
  });
});

describe('dm_mark_read and dm_history', () => {
  it('clears the unread count', async () => {
    const { alice, bob, id } = await pair();
    await send(alice, id, 'one');
    await send(alice, id, 'two');
    const before = await ok(api(server, 'GET', '/api/dm/conversations', { token: bob.token }));
    expect(before.conversations[0]).toMatchObject({ id, unread_count: 2 });
    // Bob's other socket learns it too, through a targeted update of that conversation only.
    const other = await openChat(server, bob.token);
    await other.nextOf('dm_conversations_list');
    bob.ws.send({ type: 'dm_mark_read', conversation_id: id });
    for (const ws of [bob.ws, other]) {
      const update = await ws.nextOf('dm_conversation_updated');
      expect(update.conversation).toMatchObject({ id, unread_count: 0, last_message: { message: 'two' } });
    }
    expect((await drain(bob.ws)).filter((m) => m.type === 'dm_conversations_list')).toEqual([]);
    // Alice's sockets are not told about Bob's read marker.
    expect((await drain(alice.ws)).filter((m) => m.type === 'dm_conversation_updated')).toEqual([]);
    const outsider = await chatter();
    outsider.ws.send({ type: 'dm_mark_read', conversation_id: id });
    await expectError(outsider.ws, 'Conversation not found');
  });

  it('pages history newest first', async () => {
    const { alice, bob, id } = await pair();
    const first = await send(alice, id, 'first');
    const second = await send(alice, id, 'second');
    bob.ws.send({ type: 'dm_history', conversation_id: id });
    const all = await bob.ws.nextOf('dm_history');
    expect(all).toMatchObject({ type: 'dm_history', conversation_id: id, has_more: false });
    expect((all.messages as Json[]).map((m) => m.id)).toEqual([second.id, first.id]);
    bob.ws.send({ type: 'dm_history', conversation_id: id, before_id: second.id });
    expect(((await bob.ws.nextOf('dm_history')).messages as Json[]).map((m) => m.message)).toEqual(['first']);
    const outsider = await chatter();
    outsider.ws.send({ type: 'dm_history', conversation_id: id });
    await expectError(outsider.ws, 'Conversation not found');
  });
});

describe('notifications, search and voice', () => {
  const notificationsOf = async (p: Person) =>
    ((await ok(api(server, 'GET', '/notifications', { token: p.token }))).notifications as Json[]).filter(
      (n) => n.type === 'dm_message',
    );

  it('notifies offline participants without the text, unless muted or online', async () => {
    const alice = await chatter();
    const bob = await person();
    const id = await conversation(alice, bob);
    await send(alice, id, 'secret plans');
    // The push comes first and the notification right after it.
    await waitFor(async () => (await notificationsOf(bob)).length === 1, 'a dm_message notification');
    const [n] = await notificationsOf(bob);
    expect(n).toMatchObject({ type: 'dm_message', message: `${alice.username} sent you a message` });
    expect(JSON.stringify(n)).not.toContain('secret plans');
    await ok(
      api(server, 'PUT', `/api/dm/conversations/${id}/mute`, { token: bob.token, body: { muted: true } }),
    );
    await send(alice, id, 'while muted');
    expect(await notificationsOf(bob)).toHaveLength(1);
    await ok(
      api(server, 'PUT', `/api/dm/conversations/${id}/mute`, { token: bob.token, body: { muted: false } }),
    );
    // Online on /ws/portal only: still no notification.
    const portal = await openPortal(portalUrl(server, bob.token));
    await portal.nextOf('ready');
    await send(alice, id, 'while on the portal');
    // The server decides about the notification after the push: give it time before going away.
    await sleep(300);
    expect(await notificationsOf(bob)).toHaveLength(1);
    await portal.close();
    // Online on /ws/chat: none either.
    const ws = await openChat(server, bob.token);
    await ws.nextOf('dm_conversations_list');
    await send(alice, id, 'while on chat');
    await ws.nextOf('dm_message');
    await sleep(300);
    expect(await notificationsOf(bob)).toHaveLength(1);
    await ws.close();
    // Offline again: the next message notifies, and only it was added since the first.
    await waitFor(
      async () => !(await server.deps.bus.presenceMembers('online-users')).includes(String(bob.id)),
      'bob offline',
    );
    await send(alice, id, 'back offline');
    await waitFor(async () => (await notificationsOf(bob)).length === 2, 'a second notification');
    await sleep(200);
    expect(await notificationsOf(bob)).toHaveLength(2);
  });

  it('search finds DM words for participants only', async () => {
    const { alice, bob, id } = await pair();
    const outsider = await person();
    const word = `quokka${process.pid}`;
    await send(alice, id, `a ${word} appeared`);
    const search = (p: Person) =>
      ok(api(server, 'GET', `/api/search?q=${word}&scope=dms`, { token: p.token }));
    const found = await search(bob);
    expect(found.total).toBe(1);
    expect(found.results[0]).toMatchObject({
      source: 'dm',
      conversation_id: id,
      conversation_name: alice.username,
      user_id: alice.id,
      message: `a ${word} appeared`,
    });
    expect((await search(alice)).results[0].conversation_name).toBe(bob.username);
    expect((await search(outsider)).total).toBe(0);
    // The seed's scope and conversation_id filters on a real conversation.
    const query = (p: Person, params: string) =>
      ok(api(server, 'GET', `/api/search?q=${word}${params}`, { token: p.token }));
    expect((await query(bob, '')).results.map((r: Json) => r.source)).toEqual(['dm']);
    expect((await query(bob, `&conversation_id=${id}`)).total).toBe(1);
    expect((await query(bob, '&scope=channels')).total).toBe(0);
    const other = await conversation(bob, outsider);
    expect((await query(bob, `&conversation_id=${other}`)).total).toBe(0);
    // Naming a conversation one is not in finds nothing in it.
    expect((await query(outsider, `&conversation_id=${id}`)).total).toBe(0);
  });

  it('admits participants to the dm voice room and refuses others', async () => {
    const { alice, id } = await pair();
    alice.ws.send({ type: 'voice_join', room: `dm:${id}` });
    expect(await alice.ws.nextOf('voice_state')).toMatchObject({ room: `dm:${id}` });
    const outsider = await chatter();
    outsider.ws.send({ type: 'voice_join', room: `dm:${id}` });
    await expectError(outsider.ws, 'You cannot join this voice room');
  });
});

const skip = await clusterSkipReason();

describe.skipIf(skip !== undefined)(`two nodes (${skip ?? 'PostgreSQL + Redis'})`, () => {
  it('delivers a DM sent on node A to the socket on node B', async () => {
    const cluster = await startCluster(2);
    try {
      const [a, b] = cluster.nodes;
      const kitA = roomKit(() => a as TestServer);
      const alice = await kitA.person();
      const bob = await kitA.person();
      const made = await ok(
        api(a!, 'POST', '/api/dm/conversations', { token: alice.token, body: { user_id: bob.id } }),
      );
      const wsA = await openChat(a!, alice.token);
      const wsB = await openChat(b!, bob.token);
      await wsB.nextOf('dm_conversations_list');
      wsA.send({ type: 'dm_message', conversation_id: made.id, message: 'across nodes' });
      expect(await wsB.nextOf('dm_message')).toMatchObject({ message: 'across nodes', user_id: alice.id });
      // Bob is online on node B: no notification from node A (which notifies right after the push).
      await sleep(300);
      const notes = await ok(api(a!, 'GET', '/notifications', { token: bob.token }));
      expect((notes.notifications as Json[]).filter((n) => n.type === 'dm_message')).toEqual([]);

      // The other DM events cross nodes both ways.
      const m = await wsA.nextOf('dm_message');
      wsB.send({ type: 'dm_typing', conversation_id: made.id });
      expect(await wsA.nextOf('dm_typing')).toMatchObject({ conversation_id: made.id, user_id: bob.id });
      wsB.send({ type: 'dm_react', conversation_id: made.id, message_id: m.id, emoji: '👍' });
      expect(await wsA.nextOf('dm_reaction_update')).toMatchObject({ message_id: m.id, action: 'add' });
      wsA.send({ type: 'dm_edit', conversation_id: made.id, message_id: m.id, message: 'edited' });
      expect(await wsB.nextOf('dm_message_edited')).toMatchObject({ message_id: m.id, new_text: 'edited' });
      wsA.send({ type: 'dm_delete', conversation_id: made.id, message_id: m.id });
      expect(await wsB.nextOf('dm_message_deleted')).toMatchObject({ message_id: m.id });
      const carol = await kitA.person();
      wsA.send({ type: 'dm_create_group', user_ids: [bob.id, carol.id], name: 'Across' });
      expect((await wsB.nextOf('dm_conversation_updated')).conversation).toMatchObject({ name: 'Across' });
    } finally {
      await closePortalClients();
      await cluster.stop();
    }
  }, 60_000);
});
