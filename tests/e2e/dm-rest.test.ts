import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runRetention } from '../../src/services/retention/chat-messages';
import { openChat } from '../helpers/chat-client';
import { api } from '../helpers/identity';
import { closePortalClients } from '../helpers/portal-client';
import { ISO, type Json, ok, type Person, refused, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// The Direct Messages REST API of API.md §8 (seed 002) over real HTTP: every endpoint with a
// success and a refusal, idempotent 1:1 creation, the group limits, and what outsiders get.

let server: TestServer;
const { person } = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({
    env: NO_REQUEST_LIMITS,
  });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

const call = (p: Person, method: string, path: string, body?: unknown) =>
  api(server, method, path, { token: p.token, ...(body !== undefined && { body }) });

const direct = async (a: Person, b: Person) =>
  ok(call(a, 'POST', '/api/dm/conversations', { user_id: b.id }));

/** Sends DMs over /ws/chat (REST has no send endpoint) and waits for their echo. */
async function sendDms(p: Person, conversationId: number, texts: string[]) {
  const ws = await openChat(server, p.token);
  for (const message of texts) {
    ws.send({ type: 'dm_message', conversation_id: conversationId, message });
    await ws.nextOf('dm_message', 15_000);
  }
  await ws.close();
}

describe('POST /api/dm/conversations', () => {
  it('creates a 1:1 conversation once, whichever side asks', async () => {
    const alice = await person();
    const bob = await person();
    const made = await direct(alice, bob);
    expect(made).toEqual({
      id: expect.any(Number),
      type: 'direct',
      name: null,
      participants: [
        { user_id: alice.id, username: alice.username },
        { user_id: bob.id, username: bob.username },
      ],
      created_at: expect.stringMatching(ISO),
    });
    expect((await direct(alice, bob)).id).toBe(made.id);
    expect((await direct(bob, alice)).id).toBe(made.id);
  });

  it('refuses self, unknown users, blocked pairs and bad bodies', async () => {
    const alice = await person();
    const bob = await person();
    await refused(
      call(alice, 'POST', '/api/dm/conversations', { user_id: alice.id }),
      400,
      'You cannot message yourself',
    );
    await refused(
      call(alice, 'POST', '/api/dm/conversations', { user_id: 2_000_000_000 }),
      404,
      'User not found',
    );
    await ok(call(bob, 'POST', `/api/blocks/${alice.id}`));
    await refused(
      call(alice, 'POST', '/api/dm/conversations', { user_id: bob.id }),
      403,
      'You cannot message this user',
    );
    await refused(
      call(bob, 'POST', '/api/dm/conversations', { user_id: alice.id }),
      403,
      'You cannot message this user',
    );
    await refused(call(alice, 'POST', '/api/dm/conversations', {}), 400, /user_id or user_ids/);
    await refused(call(alice, 'POST', '/api/dm/conversations', { user_id: 'x' }), 400, /user_id/);
    await refused(
      api(server, 'POST', '/api/dm/conversations', { body: { user_id: bob.id } }),
      401,
      'Authentication required',
    );
  });

  it('creates groups of up to 10 with a name, and refuses the 11th, self-only and unknown users', async () => {
    const alice = await person();
    const others: Person[] = [];
    for (let i = 0; i < 10; i++) others.push(await person());
    const nine = others.slice(0, 9).map((p) => p.id);
    const group = await ok(
      call(alice, 'POST', '/api/dm/conversations', { user_ids: nine, name: 'Project Team' }),
    );
    expect(group).toMatchObject({ type: 'group', name: 'Project Team' });
    expect(group.participants).toHaveLength(10);
    expect(group.participants[0]).toEqual({ user_id: alice.id, username: alice.username });
    await refused(
      call(alice, 'POST', '/api/dm/conversations', { user_ids: others.map((p) => p.id), name: 'Too big' }),
      400,
      'A conversation can have at most 10 participants',
    );
    await refused(
      call(alice, 'POST', '/api/dm/conversations', { user_ids: [alice.id], name: 'Me' }),
      400,
      'user_ids must name at least one other user',
    );
    await refused(
      call(alice, 'POST', '/api/dm/conversations', { user_ids: [others[0]!.id, 2_000_000_000], name: 'x' }),
      404,
      'User not found',
    );
  });
});

describe('GET /api/dm/conversations and /{id}', () => {
  it('lists conversations by recent activity with the last message, unread count and mute', async () => {
    const alice = await person();
    const bob = await person();
    const carol = await person();
    const withBob = await direct(alice, bob);
    const withCarol = await direct(alice, carol);
    await sendDms(bob, withBob.id, ['first from bob', 'Hey, are you around?']);
    let list = (await ok(call(alice, 'GET', '/api/dm/conversations'))).conversations as Json[];
    expect(list.map((c) => c.id)).toEqual([withBob.id, withCarol.id]);
    expect(list[0]).toEqual({
      id: withBob.id,
      type: 'direct',
      name: null,
      participants: withBob.participants,
      last_message: {
        message: 'Hey, are you around?',
        username: bob.username,
        created_at: expect.stringMatching(ISO),
      },
      unread_count: 2,
      muted: false,
      created_at: expect.stringMatching(ISO),
    });
    expect(list[1]).toMatchObject({ last_message: null, unread_count: 0 });
    await sendDms(carol, withCarol.id, ['carol now']);
    list = (await ok(call(alice, 'GET', '/api/dm/conversations'))).conversations as Json[];
    expect(list.map((c) => c.id)).toEqual([withCarol.id, withBob.id]);
    // The sender's own messages are not unread for them.
    const bobs = (await ok(call(bob, 'GET', '/api/dm/conversations'))).conversations as Json[];
    expect(bobs[0]).toMatchObject({ id: withBob.id, unread_count: 0 });
  });

  it('pages the list with limit (default 100, at most 100) and offset, with the total', async () => {
    const alice = await person();
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await direct(alice, await person())).id as number);
    const all = await ok(call(alice, 'GET', '/api/dm/conversations'));
    expect(all).toMatchObject({ total: 3, limit: 100, offset: 0 });
    // Newest activity first: the last one made comes first.
    expect(all.conversations.map((c: Json) => c.id)).toEqual([...made].reverse());
    const page = await ok(call(alice, 'GET', '/api/dm/conversations?limit=1&offset=1'));
    expect(page).toMatchObject({ total: 3, limit: 1, offset: 1 });
    expect(page.conversations.map((c: Json) => c.id)).toEqual([made[1]]);
    await refused(call(alice, 'GET', '/api/dm/conversations?limit=101'), 400, 'limit must be at most 100');
  });

  it('shows participants with nickname, role and avatar to participants only', async () => {
    const alice = await person();
    const admin = await person(2);
    const outsider = await person(3);
    const c = await direct(alice, admin);
    const detail = await ok(call(alice, 'GET', `/api/dm/conversations/${c.id}`));
    expect(detail).toEqual({
      id: c.id,
      type: 'direct',
      name: null,
      participants: [
        {
          user_id: alice.id,
          username: alice.username,
          nickname: null,
          role: 'user',
          avatar: { color: expect.any(String), emoji: null, initials: expect.anything() },
        },
        expect.objectContaining({ user_id: admin.id, role: 'admin' }),
      ],
      muted: false,
      created_at: expect.stringMatching(ISO),
    });
    await refused(call(outsider, 'GET', `/api/dm/conversations/${c.id}`), 404, 'Conversation not found');
    await refused(call(alice, 'GET', '/api/dm/conversations/999999999'), 404, 'Conversation not found');
    expect((await ok(call(outsider, 'GET', '/api/dm/conversations'))).conversations).toEqual([]);
  });
});

describe('GET /api/dm/conversations/{id}/messages', () => {
  it('pages newest first with before_id and has_more', async () => {
    const alice = await person();
    const bob = await person();
    const c = await direct(alice, bob);
    await sendDms(alice, c.id, ['one', 'two', 'three']);
    const page = await ok(call(bob, 'GET', `/api/dm/conversations/${c.id}/messages?limit=2`));
    expect(page.has_more).toBe(true);
    expect(page.messages.map((m: Json) => m.message)).toEqual(['three', 'two']);
    expect(page.messages[0]).toMatchObject({
      id: expect.any(Number),
      conversation_id: c.id,
      user_id: alice.id,
      username: alice.username,
      nickname: null,
      avatar: { color: expect.any(String) },
      message: 'three',
      edited_at: null,
      created_at: expect.stringMatching(ISO),
    });
    const rest = await ok(
      call(bob, 'GET', `/api/dm/conversations/${c.id}/messages?limit=2&before_id=${page.messages[1].id}`),
    );
    expect(rest).toMatchObject({ has_more: false, messages: [{ message: 'one' }] });
    const all = await ok(call(bob, 'GET', `/api/dm/conversations/${c.id}/messages`));
    expect(all.messages).toHaveLength(3);
  });

  it('refuses outsiders and bad limits', async () => {
    const alice = await person();
    const bob = await person();
    const outsider = await person();
    const c = await direct(alice, bob);
    await refused(
      call(outsider, 'GET', `/api/dm/conversations/${c.id}/messages`),
      404,
      'Conversation not found',
    );
    await refused(call(alice, 'GET', `/api/dm/conversations/${c.id}/messages?limit=101`), 400, /limit/);
    await refused(call(alice, 'GET', `/api/dm/conversations/${c.id}/messages?limit=0`), 400, /limit/);
  });
});

describe('mute, leave, participants', () => {
  it('mutes and unmutes for the caller only', async () => {
    const alice = await person();
    const bob = await person();
    const c = await direct(alice, bob);
    expect(await ok(call(alice, 'PUT', `/api/dm/conversations/${c.id}/mute`, { muted: true }))).toEqual({
      success: true,
      muted: true,
    });
    expect((await ok(call(alice, 'GET', `/api/dm/conversations/${c.id}`))).muted).toBe(true);
    expect((await ok(call(bob, 'GET', `/api/dm/conversations/${c.id}`))).muted).toBe(false);
    await ok(call(alice, 'PUT', `/api/dm/conversations/${c.id}/mute`, { muted: false }));
    expect((await ok(call(alice, 'GET', `/api/dm/conversations/${c.id}`))).muted).toBe(false);
    await refused(call(alice, 'PUT', `/api/dm/conversations/${c.id}/mute`, { muted: 'yes' }), 400, /muted/);
    await refused(
      call(await person(), 'PUT', `/api/dm/conversations/${c.id}/mute`, { muted: true }),
      404,
      'Conversation not found',
    );
  });

  it('lets participants leave groups but not 1:1 conversations', async () => {
    const alice = await person();
    const bob = await person();
    const carol = await person();
    const g = await ok(
      call(alice, 'POST', '/api/dm/conversations', { user_ids: [bob.id, carol.id], name: 'G' }),
    );
    expect(await ok(call(bob, 'POST', `/api/dm/conversations/${g.id}/leave`))).toEqual({ success: true });
    await refused(call(bob, 'GET', `/api/dm/conversations/${g.id}`), 404, 'Conversation not found');
    const detail = await ok(call(alice, 'GET', `/api/dm/conversations/${g.id}`));
    expect(detail.participants.map((p: Json) => p.user_id)).toEqual([alice.id, carol.id]);
    await refused(call(bob, 'POST', `/api/dm/conversations/${g.id}/leave`), 404, 'Conversation not found');
    const d = await direct(alice, bob);
    await refused(
      call(alice, 'POST', `/api/dm/conversations/${d.id}/leave`),
      400,
      'Only group conversations can be left',
    );
  });

  it('adds participants to groups up to 10, by participants only', async () => {
    const alice = await person();
    const bob = await person();
    const more: Person[] = [];
    for (let i = 0; i < 9; i++) more.push(await person());
    const g = await ok(call(alice, 'POST', '/api/dm/conversations', { user_ids: [bob.id], name: 'G' }));
    const added = await ok(
      call(bob, 'POST', `/api/dm/conversations/${g.id}/participants`, {
        user_ids: more.slice(0, 8).map((p) => p.id),
      }),
    );
    expect(added.success).toBe(true);
    expect(added.participants).toHaveLength(10);
    expect(added.participants.at(-1)).toEqual({ user_id: more[7]!.id, username: more[7]!.username });
    await refused(
      call(alice, 'POST', `/api/dm/conversations/${g.id}/participants`, { user_ids: [more[8]!.id] }),
      400,
      'A conversation can have at most 10 participants',
    );
    await refused(
      call(more[8]!, 'POST', `/api/dm/conversations/${g.id}/participants`, { user_ids: [more[8]!.id] }),
      404,
      'Conversation not found',
    );
    const d = await direct(alice, bob);
    await refused(
      call(alice, 'POST', `/api/dm/conversations/${d.id}/participants`, { user_ids: [more[8]!.id] }),
      400,
      'Only group conversations can take new participants',
    );
    await refused(
      call(alice, 'POST', `/api/dm/conversations/${g.id}/participants`, { user_ids: [] }),
      400,
      /user_ids/,
    );
  });
});

describe('retention', () => {
  it('deletes DM messages older than the retention period with the channel messages', async () => {
    const alice = await person();
    const bob = await person();
    const c = await direct(alice, bob);
    await sendDms(alice, c.id, ['old news']);
    const db = server.deps.database.db;
    const kept = await runRetention({ db, days: 7 });
    expect(kept.byTable.dm_messages).toBe(0);
    const later = await runRetention({ db, days: 7, now: new Date(Date.now() + 8 * 86_400_000) });
    expect(later.byTable.dm_messages).toBeGreaterThanOrEqual(1);
    const page = await ok(call(bob, 'GET', `/api/dm/conversations/${c.id}/messages`));
    expect(page).toEqual({ messages: [], has_more: false });
  });
});
