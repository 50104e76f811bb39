import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, roomMessages } from '../../src/db/schema';
import { api } from '../helpers/identity';
import { closePortalClients } from '../helpers/portal-client';
import { fitInWindow } from '../helpers/rate-window';
import { ISO, ok, type Person, refused, roomKit } from '../helpers/rooms';
import { startTestServer, type TestServer } from '../helpers/server';

// Room chat and end-to-end keys of API.md §5 over real HTTP, with the room events on /ws/portal:
// sending (plain, sealed at rest; end-to-end, stored verbatim), history paging, deleting,
// clearing, the 5 messages / 5 s limit, and every refusal with the contract's error body.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: { RATE_LIMIT_LOGIN: '100000', RATE_LIMIT_AUTH: '100000', RATE_LIMIT_ADMIN: '100000' },
  });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

const db = () => server.deps.database.db;
const { person, room, listen } = roomKit(() => server);

const send = (token: string, roomId: number, body: unknown) =>
  api(server, 'POST', `/chats/${roomId}/messages`, { token, body });

const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');

describe('sending and reading', () => {
  it('sends plain text, seals it at rest, serves it back and pushes chat_message', async () => {
    const r = await room(1);
    const [member] = r.members;
    const socket = await listen(member!.token, r.id);
    const text = 'hello room, this is plain text';
    const sent = await ok(send(r.owner.token, r.id, { content: text }));
    expect(sent).toEqual({
      id: expect.any(Number),
      room_id: r.id,
      user_id: r.owner.id,
      username: r.owner.username,
      content: text,
      ciphertext: null,
      nonce: null,
      key_ids: null,
      encrypted: false,
      created_at: expect.stringMatching(ISO),
    });

    const [row] = await db().select().from(roomMessages).where(eq(roomMessages.id, sent.id));
    expect(row!.content).not.toBe(text);
    expect(row!.content).not.toContain('plain text');
    expect(row!.content).toMatch(/^v1\./);

    const history = await ok(api(server, 'GET', `/chats/${r.id}/messages`, { token: member!.token }));
    expect(history).toEqual({ messages: [sent], has_more: false });

    const event = await socket.nextOf('chat_message');
    expect(event).toEqual({ type: 'chat_message', room_id: r.id, message: sent });
  });

  it('hides rooms from non-members (404 for reading, sending, keys)', async () => {
    const r = await room(0);
    const outsider = await person();
    await refused(
      api(server, 'GET', `/chats/${r.id}/messages`, { token: outsider.token }),
      404,
      'Chat not found',
    );
    await refused(send(outsider.token, r.id, { content: 'hi' }), 404, 'Chat not found');
    await refused(
      api(server, 'GET', `/chats/${r.id}/keys`, { token: outsider.token }),
      404,
      'Chat not found',
    );
    await refused(
      api(server, 'POST', `/chats/${r.id}/keys`, { token: outsider.token, body: { public_key: b64(32) } }),
      404,
      'Chat not found',
    );
    await refused(
      api(server, 'GET', '/chats/999999/messages', { token: outsider.token }),
      404,
      'Chat not found',
    );
    await refused(api(server, 'GET', `/chats/${r.id}/messages`), 401, 'Authentication required');
  });

  it('pages history: the newest `limit` before before_id, oldest first', async () => {
    const r = await room(0);
    const box = server.deps.secretBox;
    const ids: number[] = [];
    for (let i = 1; i <= 7; i++) {
      const [row] = await db()
        .insert(roomMessages)
        .values({ roomId: r.id, userId: r.owner.id, content: box.encrypt(`m${i}`) })
        .returning();
      ids.push(row!.id);
    }
    const get = (q: string) => api(server, 'GET', `/chats/${r.id}/messages${q}`, { token: r.owner.token });
    const page = (q: string) => ok(get(q));
    const first = await page('?limit=3');
    expect(first.messages.map((m: { content: string }) => m.content)).toEqual(['m5', 'm6', 'm7']);
    expect(first.has_more).toBe(true);
    const second = await page(`?limit=3&before_id=${first.messages[0].id}`);
    expect(second.messages.map((m: { content: string }) => m.content)).toEqual(['m2', 'm3', 'm4']);
    const last = await page(`?limit=3&before_id=${second.messages[0].id}`);
    expect(last.messages.map((m: { id: number }) => m.id)).toEqual([ids[0]]);
    expect(last.has_more).toBe(false);
    expect((await page('')).messages).toHaveLength(7);

    await refused(get('?limit=101'), 400, 'limit must be at most 100');
    await refused(get('?limit=0'), 400, 'limit must be at least 1');
    await refused(get('?before_id=abc'), 400, /^before_id/);
  });
});

describe('invalid bodies', () => {
  it('names the first invalid field with 400 and the contract body', async () => {
    const r = await room(0);
    const t = r.owner.token;
    const e2e = { ciphertext: b64(48), nonce: b64(12), key_ids: [1] };
    await refused(
      send(t, r.id, { content: 'x', ...e2e }),
      400,
      'Send either content or ciphertext, not both',
    );
    await refused(send(t, r.id, {}), 400, 'content or ciphertext is required');
    await refused(send(t, r.id, { content: '' }), 400, 'content is required');
    await refused(send(t, r.id, { content: '   ' }), 400, 'content must not be blank');
    await refused(
      send(t, r.id, { content: 'x'.repeat(4001) }),
      400,
      'content must be at most 4000 characters',
    );
    await refused(send(t, r.id, { content: 42 }), 400, 'content must be a string');
    await refused(send(t, r.id, { ...e2e, key_ids: [] }), 400, 'key_ids must have at least 1 items');
    await refused(send(t, r.id, { ...e2e, key_ids: [0] }), 400, /^key_ids.*must be at least 1$/);
    await refused(send(t, r.id, { ...e2e, key_ids: ['a'] }), 400, /^key_ids.*must be a number$/);
    // Never coerced: a numeric string is not a key id.
    await refused(send(t, r.id, { ...e2e, key_ids: ['5'] }), 400, /^key_ids.*must be a number$/);
    await refused(
      send(t, r.id, { ...e2e, key_ids: Array.from({ length: 101 }, (_, i) => i + 1) }),
      400,
      'key_ids must have at most 100 items',
    );
    await refused(send(t, r.id, { ...e2e, key_ids: [1, 1] }), 400, 'key_ids must not repeat');
    await refused(
      send(t, r.id, { ciphertext: b64(48), key_ids: [1] }),
      400,
      'nonce is required with ciphertext',
    );
    await refused(
      send(t, r.id, { ciphertext: b64(48), nonce: b64(12) }),
      400,
      'key_ids is required with ciphertext',
    );
    await refused(send(t, r.id, { ...e2e, ciphertext: 'not base64!' }), 400, 'ciphertext must be base64');
    await refused(
      send(t, r.id, { ...e2e, ciphertext: 'A'.repeat(65_537) }),
      400,
      'ciphertext must be at most 65536 characters',
    );
    await refused(
      send(t, r.id, { ...e2e, nonce: 'A'.repeat(257) }),
      400,
      'nonce must be at most 256 characters',
    );
    await refused(
      send(t, r.id, { content: 'x', nonce: b64(12) }),
      400,
      'nonce and key_ids go only with ciphertext',
    );
    // Well formed but naming no key of this room.
    await refused(send(t, r.id, e2e), 400, 'key_ids must name keys registered in this chat');
    expect(await db().select().from(roomMessages).where(eq(roomMessages.roomId, r.id))).toEqual([]);
  });
});

describe('rate limit', () => {
  it('refuses the 6th message within 5 s with 429 and Retry-After', async () => {
    const r = await room(0);
    // The 5 s windows are aligned to the epoch: the burst must not straddle two of them.
    await fitInWindow(5_000, 3_000);
    for (let i = 0; i < 5; i++) await ok(send(r.owner.token, r.id, { content: `burst ${i}` }));
    const limited = await refused(
      send(r.owner.token, r.id, { content: 'one too many' }),
      429,
      'Too many requests',
    );
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(5);
    expect(limited.body.retry_after).toBe(retryAfter);
    // Per user: someone else in the same room still sends.
    const other = await person();
    await ok(api(server, 'POST', `/chats/join/${r.code}`, { token: other.token }));
    await ok(send(other.token, r.id, { content: 'not limited' }));
  });
});

describe('end-to-end keys and messages', () => {
  it('registers, replaces and lists keys of current members only; relays ciphertext verbatim', async () => {
    const r = await room(2);
    const [alice, bob] = r.members as [Person, Person];
    const socket = await listen(bob.token, r.id);
    const ownerKey = await ok(
      api(server, 'POST', `/chats/${r.id}/keys`, { token: r.owner.token, body: { public_key: b64(32) } }),
    );
    expect(ownerKey).toEqual({
      key_id: expect.any(Number),
      user_id: r.owner.id,
      public_key: b64(32),
      created_at: expect.stringMatching(ISO),
    });
    expect(await socket.nextOf('key_registered')).toEqual({
      type: 'key_registered',
      room_id: r.id,
      key: ownerKey,
    });

    const aliceKey = await ok(
      api(server, 'POST', `/chats/${r.id}/keys`, {
        token: alice.token,
        body: { public_key: 'a-_'.repeat(20) },
      }),
    );
    const bobOld = await ok(
      api(server, 'POST', `/chats/${r.id}/keys`, { token: bob.token, body: { public_key: b64(40) } }),
    );
    const bobKey = await ok(
      api(server, 'POST', `/chats/${r.id}/keys`, { token: bob.token, body: { public_key: b64(64) } }),
    );
    expect(bobKey.key_id).not.toBe(bobOld.key_id);

    const listed = await ok(api(server, 'GET', `/chats/${r.id}/keys`, { token: alice.token }));
    expect(listed.keys.map((k: { key_id: number }) => k.key_id).sort()).toEqual(
      [ownerKey.key_id, aliceKey.key_id, bobKey.key_id].sort(),
    );
    expect(listed).toMatchObject({ total: 3, limit: 50, offset: 0 });
    const second = await ok(
      api(server, 'GET', `/chats/${r.id}/keys?limit=1&offset=1`, { token: alice.token }),
    );
    expect(second).toMatchObject({ keys: [listed.keys[1]], total: 3, limit: 1, offset: 1 });

    const ciphertext = b64(90);
    const nonce = b64(24);
    const keyIds = [ownerKey.key_id, bobKey.key_id];
    const sent = await ok(send(alice.token, r.id, { ciphertext, nonce, key_ids: keyIds }));
    expect(sent).toMatchObject({ content: null, ciphertext, nonce, key_ids: keyIds, encrypted: true });
    const [row] = await db().select().from(roomMessages).where(eq(roomMessages.id, sent.id));
    expect(row).toMatchObject({ content: null, ciphertext, nonce, keyIds });
    const pushed = await socket.nextOf('chat_message');
    expect(pushed.message).toEqual(sent);
    const history = await ok(api(server, 'GET', `/chats/${r.id}/messages`, { token: bob.token }));
    expect(history.messages).toEqual([sent]);

    // The replaced key is gone; a former member's key is no longer listed.
    await refused(send(alice.token, r.id, { ciphertext, nonce, key_ids: [bobOld.key_id] }), 400, /key_ids/);
    await ok(api(server, 'POST', `/chats/${r.id}/leave`, { token: bob.token }));
    const after = await ok(api(server, 'GET', `/chats/${r.id}/keys`, { token: alice.token }));
    expect(after.keys.map((k: { user_id: number }) => k.user_id).sort()).toEqual(
      [r.owner.id, alice.id].sort(),
    );
  });

  it('validates public keys', async () => {
    const r = await room(0);
    const register = (public_key: unknown) =>
      api(server, 'POST', `/chats/${r.id}/keys`, { token: r.owner.token, body: { public_key } });
    await refused(register('A'.repeat(31)), 400, 'public_key must be at least 32 characters');
    await refused(register('A'.repeat(2049)), 400, 'public_key must be at most 2048 characters');
    await refused(register(`${'A'.repeat(40)} !`), 400, 'public_key must be base64');
    await refused(
      api(server, 'POST', `/chats/${r.id}/keys`, { token: r.owner.token, body: {} }),
      400,
      'public_key is required',
    );
  });
});

describe('deleting and clearing', () => {
  it('lets members delete their own messages and moderator+ those of members below them', async () => {
    const r = await room(2);
    const [alice, bob] = r.members as [Person, Person];
    const socket = await listen(alice.token, r.id);
    const mine = await ok(send(alice.token, r.id, { content: 'alice says' }));
    const bobs = await ok(send(bob.token, r.id, { content: 'bob says' }));
    const owners = await ok(send(r.owner.token, r.id, { content: 'owner says' }));
    const del = (token: string, id: number, roomId = r.id) =>
      api(server, 'DELETE', `/chats/${roomId}/messages/${id}`, { token });

    await refused(del(alice.token, bobs.id), 403, 'You can only delete your own messages');
    await refused(del(alice.token, 999_999), 404, 'Message not found');
    const other = await room(0);
    const elsewhere = await ok(send(other.owner.token, other.id, { content: 'other room' }));
    await refused(del(alice.token, elsewhere.id), 404, 'Message not found');
    await refused(del(alice.token, mine.id, other.id), 404, 'Chat not found');

    expect(await ok(del(alice.token, mine.id))).toEqual({ success: true });
    expect(await socket.nextOf('chat_message_deleted')).toEqual({
      type: 'chat_message_deleted',
      room_id: r.id,
      message_id: mine.id,
    });
    await refused(del(alice.token, mine.id), 404, 'Message not found');

    // Promote bob: a moderator removes a member's message, logged as moderation, but not the
    // owner's (the moderation hierarchy); the owner removes the moderator's.
    await ok(
      api(server, 'PUT', `/chats/${r.id}/members/${bob.id}`, {
        token: r.owner.token,
        body: { role: 'moderator' },
      }),
    );
    const alices = await ok(send(alice.token, r.id, { content: 'alice again' }));
    expect(await ok(del(bob.token, alices.id))).toEqual({ success: true });
    const log = await ok(api(server, 'GET', `/chats/${r.id}/moderation`, { token: r.owner.token }));
    expect(log.entries[0]).toMatchObject({ action: 'delete_message', user_id: alice.id, actor_id: bob.id });
    await refused(del(bob.token, owners.id), 403, 'You can only delete messages of members below you');
    // A site Admin who is not a member ranks as a moderator: not above the room's owner either.
    const siteAdmin = await person(2);
    await refused(del(siteAdmin.token, owners.id), 403, 'You can only delete messages of members below you');
    expect(await ok(del(r.owner.token, bobs.id))).toEqual({ success: true });
    // A site Owner acts on everyone (API.md §1), the room's owner included.
    const siteOwner = await person(3);
    expect(await ok(del(siteOwner.token, owners.id))).toEqual({ success: true });
    const history = await ok(api(server, 'GET', `/chats/${r.id}/messages`, { token: alice.token }));
    expect(history.messages).toEqual([]);
  });

  it('clears the history for moderator+ only, logged and pushed as chat_cleared', async () => {
    const r = await room(1);
    const [member] = r.members as [Person];
    const socket = await listen(member.token, r.id);
    await ok(send(member.token, r.id, { content: 'one' }));
    await ok(send(r.owner.token, r.id, { content: 'two' }));
    const clear = (token: string) =>
      api(server, 'POST', `/chats/${r.id}/messages/clear`, { token, body: {} });

    await refused(clear(member.token), 403, 'Only the chat owner or a moderator can clear the chat');
    expect(await ok(clear(r.owner.token))).toEqual({ success: true, count: 2 });
    expect(await socket.nextOf('chat_cleared')).toEqual({ type: 'chat_cleared', room_id: r.id });
    const history = await ok(api(server, 'GET', `/chats/${r.id}/messages`, { token: member.token }));
    expect(history.messages).toEqual([]);

    const log = await ok(api(server, 'GET', `/chats/${r.id}/moderation`, { token: r.owner.token }));
    expect(log.entries[0]).toMatchObject({ action: 'clear', user_id: null, actor_id: r.owner.id });
    const [audit] = await db()
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'room.clear'), eq(auditLog.targetId, String(r.id))));
    expect(audit).toMatchObject({
      actorUserId: r.owner.id,
      targetType: 'room',
      details: { room_id: r.id, count: 2 },
    });

    // A site Admin who is not a member may clear too (moderator+ of API.md §0).
    const admin = await person(2);
    expect(await ok(clear(admin.token))).toEqual({ success: true, count: 0 });
  });
});
