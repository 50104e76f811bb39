import { eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chatMessages, users } from '../../src/db/schema';
import {
  chatUrl,
  drain,
  expectError,
  joinChannel,
  joinedPeople,
  openChat,
  publicChannel,
} from '../helpers/chat-client';
import { clusterSkipReason, startCluster } from '../helpers/cluster';
import { dumpAllTables } from '../helpers/database';
import { api } from '../helpers/identity';
import { closePortalClients, openPortal, waitFor } from '../helpers/portal-client';
import { lateInWindow } from '../helpers/rate-window';
import { ISO, ok, refused, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// /ws/chat of API.md §9 with the seed 002 protocol over real WebSockets: every client message type
// with a success and a refusal, the display rules, private and readonly channels, the rate limit,
// blocking, mentions, REST history and threads, encryption at rest, and two nodes.

let server: TestServer;
const { person } = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({
    env: NO_REQUEST_LIMITS,
  });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

let seq = 0;
const unique = (prefix = 'ws') => `${prefix}-${process.pid}-${++seq}`;
const db = () => server.deps.database.db;

/** An Admin, a public channel of theirs, and `n` users with sockets joined to it. */
async function setup(n = 2, body: Record<string, unknown> = {}) {
  const admin = await person(2);
  const channel = await publicChannel(server, admin, unique(), body);
  const people = await joinedPeople(server, channel.name, n, () => person());
  return { admin, channel, people };
}

describe('connecting', () => {
  it('authenticates by ?token= or a first `auth` message, and refuses bad tokens', async () => {
    const p = await person();
    const first = await openPortal(chatUrl(server));
    first.send({ type: 'join', channel: 'general' });
    await expectError(first, 'Authentication required');
    first.send({ type: 'auth', token: p.token });
    expect((await first.nextOf('ready')).user).toEqual({ id: p.id, username: p.username });
    const bad = await openPortal(chatUrl(server));
    bad.send({ type: 'auth', token: 'nope' });
    expect((await bad.closed).code).toBe(4401);
    await expect(openPortal(chatUrl(server, 'nope'))).rejects.toMatchObject({ status: 401 });
  });

  it('caps sockets per user, first-message authentication included', async () => {
    const p = await person();
    for (let i = 0; i < 10; i++) await openChat(server, p.token);
    const extra = await openPortal(chatUrl(server));
    extra.send({ type: 'auth', token: p.token });
    expect((await extra.closed).code).toBe(4429);
  });

  it('refuses unknown types and malformed frames with an error frame', async () => {
    const p = await person();
    const ws = await openChat(server, p.token);
    ws.send({ type: 'dance' });
    await expectError(ws, 'Unknown message type: dance');
    ws.send('{not json');
    await expectError(ws, 'Malformed JSON');
  });
});

describe('join', () => {
  it('answers with channel_info, history, pinned_messages and users, and tells the others', async () => {
    const { channel, people } = await setup(1, { description: 'The topic' });
    const [alice] = people;
    const bob = await person();
    const ws = await openChat(server, bob.token);
    const joined = await joinChannel(ws, channel.name);
    expect(joined.info).toMatchObject({
      type: 'channel_info',
      name: channel.name,
      topic: 'The topic',
      is_default: 0,
    });
    expect(joined.history.messages).toEqual([]);
    expect(joined.pinned.messages).toEqual([]);
    const online = (joined.users.users as Array<{ user_id: number }>).map((u) => u.user_id).sort();
    expect(online).toEqual([alice!.id, bob.id].sort());
    // Each entry carries the seed's profile fields.
    expect(joined.users.users).toContainEqual(
      expect.objectContaining({
        user_id: bob.id,
        username: bob.username,
        nickname: null,
        role: 'user',
        anonymous: false,
        avatar: expect.objectContaining({ color: expect.any(String) }),
      }),
    );
    const seen = await alice!.ws.nextOf('user_joined');
    expect(seen).toMatchObject({
      username: bob.username,
      role: 'user',
      anonymous: false,
      channel: channel.name,
    });
    await ws.close();
    expect(await alice!.ws.nextOf('user_left')).toMatchObject({
      channel: channel.name,
      username: bob.username,
    });
  });

  it('bounds what join sends: the newest 50 pins, and `users` with the online total', async () => {
    const { channel, people } = await setup(1);
    const box = server.deps.secretBox;
    const rows = await db()
      .insert(chatMessages)
      .values(
        Array.from({ length: 55 }, (_, i) => ({
          channelId: channel.id,
          userId: people[0]!.id,
          text: box.encrypt(`pin ${i}`),
          pinnedAt: new Date(),
        })),
      )
      .returning({ id: chatMessages.id });
    const late = await openChat(server, (await person()).token);
    const joined = await joinChannel(late, channel.name);
    const pinned = (joined.pinned.messages as Array<{ id: number }>).map((m) => m.id);
    expect(pinned).toEqual(rows.slice(5).map((r) => r.id));
    expect(joined.users).toMatchObject({ total: 2 });
    expect(joined.users.users).toHaveLength(2);
  });

  it('leaves a channel on `leave`, and refuses to leave one not joined', async () => {
    const { channel, people } = await setup(2);
    const [alice, bob] = people;
    bob!.ws.send({ type: 'leave', channel: channel.name });
    expect(await alice!.ws.nextOf('user_left')).toMatchObject({ username: bob!.username });
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'gone?' });
    await alice!.ws.nextOf('message');
    expect((await drain(bob!.ws)).filter((m) => m.type === 'message')).toEqual([]);
    bob!.ws.send({ type: 'leave', channel: channel.name });
    await expectError(bob!.ws, 'Not in this channel');
  });

  it('refuses unknown channels and bad names', async () => {
    const p = await person();
    const ws = await openChat(server, p.token);
    ws.send({ type: 'join', channel: 'no-such-channel' });
    await expectError(ws, 'Channel not found');
    ws.send({ type: 'join', channel: 'Bad Name' });
    await expectError(ws, 'channel may contain only lowercase letters, digits and hyphens');
  });

  it('keeps private channels to their members', async () => {
    const owner = await person();
    const outsider = await person();
    const name = unique('priv');
    await ok(api(server, 'POST', '/api/chat/channels', { token: owner.token, body: { name } }));
    const out = await openChat(server, outsider.token);
    out.send({ type: 'join', channel: name });
    await expectError(out, 'Channel not found');
    out.send({ type: 'message', channel: name, message: 'let me in' });
    await expectError(out, 'Channel not found');
    const ws = await openChat(server, owner.token);
    await joinChannel(ws, name);
    ws.send({ type: 'message', channel: name, message: 'members only' });
    expect((await ws.nextOf('message')).message).toBe('members only');
  });
  it('drops sockets of readers who lose access (member removed, channel made private)', async () => {
    const owner = await person();
    const member = await person();
    const name = unique('priv');
    const made = await ok(api(server, 'POST', '/api/chat/channels', { token: owner.token, body: { name } }));
    const path = `/api/chat/channels/${made.id}/members`;
    await ok(api(server, 'POST', path, { token: owner.token, body: { user_id: member.id } }));
    const ownerWs = await openChat(server, owner.token);
    await joinChannel(ownerWs, name);
    const memberWs = await openChat(server, member.token);
    await joinChannel(memberWs, name);
    await ok(api(server, 'DELETE', `${path}/${member.id}`, { token: owner.token }));
    expect(await memberWs.nextOf('channel_deleted')).toMatchObject({ channel: name });
    ownerWs.send({ type: 'message', channel: name, message: 'after removal' });
    await ownerWs.nextOf('message');
    expect((await drain(memberWs)).filter((m) => m.type === 'message')).toEqual([]);
    // A public channel turned private keeps its members and Admin+, and drops everyone else.
    const { admin, channel, people } = await setup(1);
    await ok(
      api(server, 'PUT', `/api/chat/channels/${channel.id}`, {
        token: admin.token,
        body: { visibility: 'private' },
      }),
    );
    expect(await people[0]!.ws.nextOf('channel_deleted')).toMatchObject({ channel: channel.name });
  });
});

describe('message', () => {
  it('reaches everyone in the channel in the seed shape, with replies and images', async () => {
    const { channel, people } = await setup(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'Hello!' });
    const got = await bob!.ws.nextOf('message');
    expect(got).toMatchObject({
      type: 'message',
      channel: channel.name,
      user_id: alice!.id,
      username: alice!.username,
      nickname: null,
      role: 'user',
      anonymous: false,
      avatar: { color: expect.any(String) },
      message: 'Hello!',
    });
    expect(got.id).toEqual(expect.any(Number));
    expect(got.created_at).toMatch(ISO);
    expect((await alice!.ws.nextOf('message')).id).toBe(got.id);
    bob!.ws.send({
      type: 'message',
      channel: channel.name,
      message: 'Nice!',
      reply_to: got.id,
      image_url: '/static/uploads/chat/abc123.png',
    });
    const reply = await alice!.ws.nextOf('message');
    expect(reply).toMatchObject({
      reply_to: got.id,
      reply_preview: { id: got.id, username: alice!.username, message: 'Hello!' },
      image_url: '/static/uploads/chat/abc123.png',
    });
  });

  it('refuses bad fields: too long, empty, foreign reply_to, outside image_url', async () => {
    const { channel, people } = await setup(1);
    const ws = people[0]!.ws;
    ws.send({ type: 'message', channel: channel.name, message: 'x'.repeat(4001) });
    await expectError(ws, 'message must be at most 4000 characters');
    ws.send({ type: 'message', channel: channel.name, message: '   ' });
    await expectError(ws, 'message is required');
    await joinChannel(ws, 'general');
    ws.send({ type: 'message', channel: 'general', message: 'elsewhere' });
    const other = await ws.nextOf('message');
    ws.send({ type: 'message', channel: channel.name, message: 'reply', reply_to: other.id });
    await expectError(ws, 'reply_to must be a message in this channel');
    ws.send({
      type: 'message',
      channel: channel.name,
      message: 'img',
      image_url: 'https://evil.example/x.png',
    });
    await expectError(ws, /^image_url must be an upload under \/static\/uploads\/chat\//);
  });

  it('allows 5 messages per 5 seconds, then answers with the exact error and stores nothing', async () => {
    const { channel, people } = await setup(1);
    const ws = people[0]!.ws;
    for (let i = 0; i < 6; i++) ws.send({ type: 'message', channel: channel.name, message: `burst ${i}` });
    const error = await ws.nextOf('error');
    expect(error).toEqual({ type: 'error', message: "Slow down! You're sending messages too fast." });
    // Frames are handled in order: the five were stored before the sixth was refused.
    const stored = await db().select().from(chatMessages).where(eq(chatMessages.channelId, channel.id));
    expect(stored).toHaveLength(5);
    await drain(ws);
    expect(await db().select().from(chatMessages).where(eq(chatMessages.channelId, channel.id))).toHaveLength(
      5,
    );
  });

  it('counts a sliding 5 s: five before an epoch boundary leave no room just after it', async () => {
    const { channel, people } = await setup(1);
    const ws = people[0]!.ws;
    const boundary = await lateInWindow(5_000, 1_500);
    for (let i = 0; i < 5; i++) ws.send({ type: 'message', channel: channel.name, message: `late ${i}` });
    for (let i = 0; i < 5; i++) await ws.nextOf('message');
    await boundary();
    ws.send({ type: 'message', channel: channel.name, message: 'just after the boundary' });
    await expectError(ws, "Slow down! You're sending messages too fast.");
    const stored = await db().select().from(chatMessages).where(eq(chatMessages.channelId, channel.id));
    expect(stored).toHaveLength(5);
  });

  it('takes messages in readonly channels from moderators+ only', async () => {
    const { admin, channel, people } = await setup(1, { mode: 'readonly' });
    const ws = people[0]!.ws;
    ws.send({ type: 'message', channel: channel.name, message: 'may I?' });
    await expectError(ws, 'This channel is read-only');
    const mod = await openChat(server, admin.token);
    await joinChannel(mod, channel.name);
    mod.send({ type: 'message', channel: channel.name, message: 'Announcement' });
    expect((await ws.nextOf('message')).message).toBe('Announcement');
  });

  it('refuses timed-out users', async () => {
    const { channel, people } = await setup(1);
    const p = people[0]!;
    await db()
      .update(users)
      .set({ state: 1, stateExpiresAt: new Date(Date.now() + 60_000) })
      .where(eq(users.id, p.id));
    p.ws.send({ type: 'message', channel: channel.name, message: 'hush' });
    await expectError(p.ws, 'Your account is temporarily restricted');
  });

  it('masks anonymous authors for others, not for the author or moderators+', async () => {
    const { admin, channel, people } = await setup(2);
    const [anon, other] = people;
    const mod = await openChat(server, admin.token);
    await joinChannel(mod, channel.name);
    await db().update(users).set({ anonymous: true, nickname: 'Nick' }).where(eq(users.id, anon!.id));
    anon!.ws.send({ type: 'message', channel: channel.name, message: 'who am I' });
    const seen = await other!.ws.nextOf('message');
    expect(seen).toMatchObject({
      user_id: null,
      username: 'Anonymous',
      nickname: null,
      avatar: null,
      anonymous: true,
    });
    const own = await anon!.ws.nextOf('message');
    expect(own).toMatchObject({
      user_id: anon!.id,
      username: anon!.username,
      nickname: 'Nick',
      anonymous: true,
    });
    const moderated = await mod.nextOf('message');
    expect(moderated).toMatchObject({ user_id: anon!.id, username: anon!.username, anonymous: true });
    // Stored per message: it stays anonymous after the user turns anonymous mode off.
    await db().update(users).set({ anonymous: false }).where(eq(users.id, anon!.id));
    const page = await ok(
      api(server, 'GET', `/api/chat/channels/${channel.id}/messages`, { token: other!.token }),
    );
    expect(page.messages.at(-1)).toMatchObject({ user_id: null, username: 'Anonymous' });
  });
});

describe('delete, react, edit, pin', () => {
  it('deletes own messages; moderators+ delete any (audited); others are refused', async () => {
    const { admin, channel, people } = await setup(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'one' });
    const one = await bob!.ws.nextOf('message');
    bob!.ws.send({ type: 'delete', message_id: one.id });
    await expectError(bob!.ws, 'You can only delete your own messages');
    alice!.ws.send({ type: 'delete', message_id: one.id });
    expect(await bob!.ws.nextOf('message_deleted')).toMatchObject({
      message_id: one.id,
      deleted_by: alice!.id,
    });
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'two' });
    const two = await bob!.ws.nextOf('message');
    const mod = await openChat(server, admin.token);
    mod.send({ type: 'delete', message_id: two.id });
    expect(await bob!.ws.nextOf('message_deleted')).toMatchObject({
      message_id: two.id,
      deleted_by: admin.id,
    });
    const audit = await server.deps.database.query<{ action: string }>(
      sql`select action from audit_log where target_type = 'chat_message' and target_id = ${String(two.id)}`,
    );
    expect(audit.map((a) => a.action)).toEqual(['chat.message_delete']);
    mod.send({ type: 'delete', message_id: two.id });
    await expectError(mod, 'Message not found');
  });

  it('toggles reactions', async () => {
    const { channel, people } = await setup(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'react to me' });
    const m = await bob!.ws.nextOf('message');
    bob!.ws.send({ type: 'react', message_id: m.id, emoji: '👍' });
    const add = await alice!.ws.nextOf('reaction_update');
    expect(add).toMatchObject({
      message_id: m.id,
      emoji: '👍',
      user_id: bob!.id,
      username: bob!.username,
      action: 'add',
    });
    bob!.ws.send({ type: 'react', message_id: m.id, emoji: '👍' });
    expect((await alice!.ws.nextOf('reaction_update')).action).toBe('remove');
    bob!.ws.send({ type: 'react', message_id: m.id, emoji: 'two words' });
    await expectError(bob!.ws, 'emoji must not contain spaces');
    bob!.ws.send({ type: 'react', message_id: 2_000_000_000, emoji: '👍' });
    await expectError(bob!.ws, 'Message not found');
  });

  it('masks reactions made in anonymous mode, live and in history, except to the reactor and moderators+', async () => {
    const { admin, channel, people } = await setup(2);
    const [author, anon] = people;
    const mod = await openChat(server, admin.token);
    await joinChannel(mod, channel.name);
    author!.ws.send({ type: 'message', channel: channel.name, message: 'react anonymously' });
    const m = await author!.ws.nextOf('message');
    await db().update(users).set({ anonymous: true }).where(eq(users.id, anon!.id));
    anon!.ws.send({ type: 'react', message_id: m.id, emoji: '🎉' });
    expect(await author!.ws.nextOf('reaction_update')).toMatchObject({
      message_id: m.id,
      emoji: '🎉',
      user_id: null,
      username: 'Anonymous',
      action: 'add',
    });
    expect(await anon!.ws.nextOf('reaction_update')).toMatchObject({
      user_id: anon!.id,
      username: anon!.username,
    });
    expect(await mod.nextOf('reaction_update')).toMatchObject({ user_id: anon!.id });
    // Stored per reaction: still anonymous after anonymous mode is turned off.
    await db().update(users).set({ anonymous: false }).where(eq(users.id, anon!.id));
    const reactionsSeenBy = async (token: string) =>
      (await ok(api(server, 'GET', `/api/chat/channels/${channel.id}/messages`, { token }))).messages.at(-1)
        .reactions;
    expect(await reactionsSeenBy(author!.token)).toEqual([{ emoji: '🎉', count: 1, user_ids: [null] }]);
    expect(await reactionsSeenBy(anon!.token)).toEqual([{ emoji: '🎉', count: 1, user_ids: [anon!.id] }]);
    expect(await reactionsSeenBy(admin.token)).toEqual([{ emoji: '🎉', count: 1, user_ids: [anon!.id] }]);
    // Taking it back is announced as anonymously as it was made.
    anon!.ws.send({ type: 'react', message_id: m.id, emoji: '🎉' });
    expect(await author!.ws.nextOf('reaction_update')).toMatchObject({ user_id: null, action: 'remove' });
  });

  it('edits own messages within 5 minutes', async () => {
    const { channel, people } = await setup(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'typo' });
    const m = await bob!.ws.nextOf('message');
    alice!.ws.send({ type: 'edit_message', message_id: m.id, message: 'fixed' });
    const edited = await bob!.ws.nextOf('message_edited');
    expect(edited).toMatchObject({ message_id: m.id, new_text: 'fixed' });
    expect(edited.edited_at).toMatch(ISO);
    bob!.ws.send({ type: 'edit_message', message_id: m.id, message: 'hijack' });
    await expectError(bob!.ws, 'You can only edit your own messages');
    await db()
      .update(chatMessages)
      .set({ createdAt: new Date(Date.now() - 6 * 60_000) })
      .where(eq(chatMessages.id, m.id as number));
    alice!.ws.send({ type: 'edit_message', message_id: m.id, message: 'too late' });
    await expectError(alice!.ws, 'Messages can only be edited within 5 minutes');
  });

  it('pins and unpins for moderators+, and lists pins on join', async () => {
    const { admin, channel, people } = await setup(1);
    const [alice] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'Important info' });
    const m = await alice!.ws.nextOf('message');
    alice!.ws.send({ type: 'pin_message', message_id: m.id });
    await expectError(alice!.ws, 'Moderator access required');
    const mod = await openChat(server, admin.token);
    mod.send({ type: 'pin_message', message_id: m.id });
    expect(await alice!.ws.nextOf('message_pinned')).toMatchObject({
      message_id: m.id,
      pinned_by: admin.id,
      pinned_by_username: admin.username,
    });
    const late = await openChat(server, (await person()).token);
    const joined = await joinChannel(late, channel.name);
    expect(joined.pinned.messages).toMatchObject([
      {
        id: m.id,
        username: alice!.username,
        message: 'Important info',
        pinned_by: admin.id,
        pinned_at: expect.stringMatching(ISO),
      },
    ]);
    alice!.ws.send({ type: 'unpin_message', message_id: m.id });
    await expectError(alice!.ws, 'Moderator access required');
    alice!.ws.send({ type: 'unpin_message', message_id: 'forty-two' });
    await expectError(alice!.ws, /message_id/);
    mod.send({ type: 'unpin_message', message_id: m.id });
    expect(await alice!.ws.nextOf('message_unpinned')).toMatchObject({ message_id: m.id });
    mod.send({ type: 'unpin_message', message_id: m.id });
    await expectError(mod, 'Message is not pinned');
  });
});

describe('mark_read, typing, blocking, mentions', () => {
  it('moves the read marker (unread_count) and refuses unknown messages', async () => {
    const { channel, people } = await setup(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'unread' });
    const m = await bob!.ws.nextOf('message');
    const unread = async () =>
      (await ok(api(server, 'GET', '/api/chat/channels', { token: bob!.token }))).channels.find(
        (c: { id: number }) => c.id === channel.id,
      ).unread_count;
    expect(await unread()).toBe(1);
    bob!.ws.send({ type: 'mark_read', message_id: m.id });
    // mark_read has no answer frame; frames are handled in order, so the `pong` comes after it.
    await drain(bob!.ws);
    expect(await unread()).toBe(0);
    bob!.ws.send({ type: 'mark_read', message_id: 2_000_000_000 });
    await expectError(bob!.ws, 'Message not found');
  });

  it('relays typing to the others only', async () => {
    const { channel, people } = await setup(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'typing', channel: channel.name });
    expect(await bob!.ws.nextOf('typing')).toMatchObject({
      channel: channel.name,
      user_id: alice!.id,
      username: alice!.username,
    });
    expect((await drain(alice!.ws)).filter((m) => m.type === 'typing')).toEqual([]);
    alice!.ws.send({ type: 'typing', channel: 'no-such-channel' });
    await expectError(alice!.ws, 'Channel not found');
  });

  it('blocks and unblocks: the blocker no longer receives or sees the blocked user', async () => {
    const { channel, people } = await setup(3);
    const [alice, bob, carol] = people;
    bob!.ws.send({ type: 'message', channel: channel.name, message: 'before the block' });
    await alice!.ws.nextOf('message');
    await carol!.ws.nextOf('message');
    alice!.ws.send({ type: 'block_user', user_id: bob!.id });
    expect(await alice!.ws.nextOf('user_blocked')).toEqual({
      type: 'user_blocked',
      user_id: bob!.id,
      username: bob!.username,
    });
    bob!.ws.send({ type: 'message', channel: channel.name, message: 'after the block' });
    expect((await carol!.ws.nextOf('message')).message).toBe('after the block');
    expect((await drain(alice!.ws)).filter((m) => m.type === 'message')).toEqual([]);
    const history = await ok(
      api(server, 'GET', `/api/chat/channels/${channel.id}/messages`, { token: alice!.token }),
    );
    expect(history.messages).toEqual([]);
    alice!.ws.send({ type: 'block_user', user_id: alice!.id });
    await expectError(alice!.ws, 'You cannot block yourself');
    alice!.ws.send({ type: 'unblock_user', user_id: bob!.id });
    expect(await alice!.ws.nextOf('user_unblocked')).toMatchObject({
      user_id: bob!.id,
      username: bob!.username,
    });
    alice!.ws.send({ type: 'unblock_user', user_id: bob!.id });
    await expectError(alice!.ws, 'Block not found');
  });

  it('notifies @mentioned users who can read the channel', async () => {
    const { channel, people } = await setup(1);
    const [alice] = people;
    const bob = await person();
    alice!.ws.send({ type: 'message', channel: channel.name, message: `hey @${bob.username} look` });
    await alice!.ws.nextOf('message');
    // Notifications are written after the live push: poll for it.
    const inboxOf = () => ok(api(server, 'GET', '/notifications', { token: bob.token }));
    await waitFor(async () => (await inboxOf()).notifications.length > 0, 'the mention notification');
    const inbox = await inboxOf();
    expect(inbox.notifications[0]).toMatchObject({
      type: 'mention',
      message: `${alice!.username} mentioned you in #${channel.name}`,
    });
    // A private channel: the mentioned outsider cannot read it, so no notification.
    const secret = unique('secret');
    await ok(api(server, 'POST', '/api/chat/channels', { token: alice!.token, body: { name: secret } }));
    await joinChannel(alice!.ws, secret);
    alice!.ws.send({ type: 'message', channel: secret, message: `psst @${bob.username}` });
    await alice!.ws.nextOf('message');
    const after = await ok(api(server, 'GET', '/notifications', { token: bob.token }));
    expect(after.notifications.length).toBe(1);
  });
});

describe('REST history, threads and channel events', () => {
  it('pages history oldest first and walks reply threads', async () => {
    const { channel, people } = await setup(1);
    const ws = people[0]!.ws;
    let parent: number | undefined;
    const ids: number[] = [];
    for (const text of ['a', 'b', 'c']) {
      ws.send({ type: 'message', channel: channel.name, message: text, ...(parent && { reply_to: parent }) });
      parent = (await ws.nextOf('message')).id as number;
      ids.push(parent);
    }
    const token = people[0]!.token;
    const page = await ok(api(server, 'GET', `/api/chat/channels/${channel.id}/messages?limit=2`, { token }));
    expect(page.messages.map((m: { message: string }) => m.message)).toEqual(['b', 'c']);
    expect(page.has_more).toBe(true);
    const older = await ok(
      api(server, 'GET', `/api/chat/channels/${channel.id}/messages?limit=2&before_id=${ids[1]}`, { token }),
    );
    expect(older.messages.map((m: { message: string }) => m.message)).toEqual(['a']);
    expect(older.has_more).toBe(false);
    const thread = await ok(api(server, 'GET', `/api/chat/messages/${ids[2]}/thread`, { token }));
    expect(thread.messages.map((m: { id: number }) => m.id)).toEqual(ids);
    await refused(
      api(server, 'GET', `/api/chat/channels/${channel.id}/messages?limit=101`, { token }),
      400,
      /limit/,
    );
    const outsider = await person();
    const secret = unique('secret');
    const priv = await ok(api(server, 'POST', '/api/chat/channels', { token, body: { name: secret } }));
    await refused(
      api(server, 'GET', `/api/chat/channels/${priv.id}/messages`, { token: outsider.token }),
      404,
      'Channel not found',
    );
  });

  it('stops a thread 20 messages deep, still oldest first; refuses unknown and unreadable messages', async () => {
    const { channel, people } = await setup(1);
    const author = people[0]!;
    const box = server.deps.secretBox;
    // A reply chain of 25 (written directly: the send limit would make this slow over the socket).
    const ids: number[] = [];
    for (let i = 0; i < 25; i++) {
      const [row] = await db()
        .insert(chatMessages)
        .values({
          channelId: channel.id,
          userId: author.id,
          text: box.encrypt(`link ${i}`),
          replyTo: ids.at(-1) ?? null,
        })
        .returning({ id: chatMessages.id });
      ids.push(row!.id);
    }
    const thread = await ok(
      api(server, 'GET', `/api/chat/messages/${ids.at(-1)}/thread`, { token: author.token }),
    );
    expect(thread.messages.map((m: { id: number }) => m.id)).toEqual(ids.slice(-20));
    expect(thread.messages[0]).toMatchObject({ message: 'link 5', reply_to: ids[4] });
    await refused(
      api(server, 'GET', '/api/chat/messages/2000000000/thread', { token: author.token }),
      404,
      'Message not found',
    );
    const outsider = await person();
    const secret = unique('secret');
    const priv = await ok(
      api(server, 'POST', '/api/chat/channels', { token: author.token, body: { name: secret } }),
    );
    const [hidden] = await db()
      .insert(chatMessages)
      .values({ channelId: priv.id as number, userId: author.id, text: box.encrypt('members only') })
      .returning({ id: chatMessages.id });
    await refused(
      api(server, 'GET', `/api/chat/messages/${hidden!.id}/thread`, { token: outsider.token }),
      404,
      'Message not found',
    );
  });

  it('tells joined sockets about renames and deletions', async () => {
    const { admin, channel, people } = await setup(1);
    const ws = people[0]!.ws;
    const renamed = unique('renamed');
    await ok(
      api(server, 'PUT', `/api/chat/channels/${channel.id}`, { token: admin.token, body: { name: renamed } }),
    );
    expect(await ws.nextOf('channel_renamed')).toMatchObject({ old_name: channel.name, new_name: renamed });
    await ok(api(server, 'DELETE', `/api/chat/channels/${channel.id}`, { token: admin.token }));
    expect(await ws.nextOf('channel_deleted')).toMatchObject({ channel: renamed });
  });
});

describe('encryption at rest', () => {
  it('stores no message text, edit or image URL in plaintext', async () => {
    const { channel, people } = await setup(1);
    const ws = people[0]!.ws;
    const word = `zebra${process.pid}quartz`;
    ws.send({
      type: 'message',
      channel: channel.name,
      message: `secret ${word} one`,
      image_url: `/static/uploads/chat/${word}.png`,
    });
    const m = await ws.nextOf('message');
    ws.send({ type: 'edit_message', message_id: m.id, message: `edited ${word}x two` });
    await ws.nextOf('message_edited');
    const dump = await dumpAllTables(server.deps.database);
    expect(dump).toContain('chat_messages');
    expect(dump).not.toContain(word);
    // AES-256-GCM sealed with the current key id ("v1.<kid>.<iv>.<ciphertext+tag>"), so keys can rotate.
    const [row] = await db()
      .select()
      .from(chatMessages)
      .where(eq(chatMessages.id, m.id as number));
    const sealed = new RegExp(`^v1\\.${server.deps.secretBox.keyId}\\.[\\w-]{16}\\.[\\w-]+$`);
    expect(row!.text).toMatch(sealed);
    expect(row!.attachments).toMatch(sealed);
  });
});

const skip = await clusterSkipReason();

describe.skipIf(skip !== undefined)(`two nodes (${skip ?? 'PostgreSQL + Redis'})`, () => {
  it('carries a message and every channel event across nodes, shares the send budget and the online count', async () => {
    // An hour-long window, so that the budget below does not depend on how fast this machine is.
    const cluster = await startCluster(2, { CHAT_RATE_WINDOW_SECONDS: '3600' });
    try {
      const [a, b] = cluster.nodes as [TestServer, TestServer];
      const kitA = roomKit(() => a);
      const [admin, alice, bob, carol] = [
        await kitA.person(2),
        await kitA.person(),
        await kitA.person(),
        await kitA.person(),
      ];
      const channel = await publicChannel(a, admin, unique('cl'));
      const wsA = await openChat(a, alice.token);
      const wsB = await openChat(b, bob.token);
      const carolB = await openChat(b, carol.token);
      await joinChannel(wsA, channel.name);
      // Presence is cluster-wide: node B's `users` list has Alice, who is on node A.
      const joined = await joinChannel(wsB, channel.name);
      expect((joined.users.users as Array<{ user_id: number }>).map((u) => u.user_id)).toContain(alice.id);
      expect(await wsA.nextOf('user_joined')).toMatchObject({ username: bob.username });
      await joinChannel(carolB, channel.name);
      // GET /api/stats on either node counts users connected to the other.
      const online = async (node: TestServer) =>
        (await ok(api(node, 'GET', '/api/stats', { token: admin.token }))).online_users;
      expect(await online(a)).toBe(3);
      expect(await online(b)).toBe(3);

      wsA.send({ type: 'message', channel: channel.name, message: 'from A' });
      const m = await wsB.nextOf('message');
      expect(m).toMatchObject({ message: 'from A', user_id: alice.id });
      wsB.send({ type: 'react', message_id: m.id, emoji: '👍' });
      expect(await wsA.nextOf('reaction_update')).toMatchObject({ message_id: m.id, user_id: bob.id });
      wsA.send({ type: 'edit_message', message_id: m.id, message: 'from A, edited' });
      expect(await wsB.nextOf('message_edited')).toMatchObject({
        message_id: m.id,
        new_text: 'from A, edited',
      });
      wsB.send({ type: 'typing', channel: channel.name });
      expect(await wsA.nextOf('typing')).toMatchObject({ user_id: bob.id });
      const mod = await openChat(b, admin.token);
      mod.send({ type: 'pin_message', message_id: m.id });
      expect(await wsA.nextOf('message_pinned')).toMatchObject({ message_id: m.id, pinned_by: admin.id });
      wsA.send({ type: 'create_poll', channel: channel.name, question: 'Across?', options: ['y', 'n'] });
      const poll = (await wsB.nextOf('poll_created')).poll as { id: number };
      wsB.send({ type: 'vote_poll', poll_id: poll.id, option_index: 0 });
      expect(await wsA.nextOf('poll_updated')).toMatchObject({ poll_id: poll.id, total_votes: 1 });
      wsA.send({ type: 'close_poll', poll_id: poll.id });
      expect(await wsB.nextOf('poll_closed')).toMatchObject({ poll_id: poll.id });
      wsA.send({ type: 'delete', message_id: m.id });
      expect(await wsB.nextOf('message_deleted')).toMatchObject({ message_id: m.id, deleted_by: alice.id });
      // A block made on node B hides Alice's messages from Bob's socket there.
      wsB.send({ type: 'block_user', user_id: alice.id });
      await wsB.nextOf('user_blocked');
      wsA.send({ type: 'message', channel: channel.name, message: 'hidden from bob' });
      // Once Carol's socket on node B has it, node B has handled it for Bob's socket too.
      let seen = await carolB.nextOf('message');
      while (seen.message !== 'hidden from bob') seen = await carolB.nextOf('message');
      expect((await drain(wsB)).filter((f) => f.type === 'message')).toEqual([]);

      // One budget of 5 messages per window, whichever node the sockets are on (3 were sent above).
      const aliceOnB = await openChat(b, alice.token);
      await joinChannel(aliceOnB, channel.name);
      // Each socket still holds earlier frames (its own echoes, the other node's relays): wait for
      // the echo of exactly this message, so each is counted before the next is sent.
      const echoOf = async (ws: typeof wsA, text: string) => {
        for (;;) if ((await ws.nextOf('message')).message === text) return;
      };
      aliceOnB.send({ type: 'message', channel: channel.name, message: 'fourth' });
      await echoOf(aliceOnB, 'fourth');
      wsA.send({ type: 'message', channel: channel.name, message: 'fifth' });
      await echoOf(wsA, 'fifth');
      aliceOnB.send({ type: 'message', channel: channel.name, message: 'sixth' });
      await expectError(aliceOnB, "Slow down! You're sending messages too fast.");

      // Renames and deletions made through node A reach node B.
      const renamed = unique('cl-renamed');
      await ok(
        api(a, 'PUT', `/api/chat/channels/${channel.id}`, { token: admin.token, body: { name: renamed } }),
      );
      expect(await wsB.nextOf('channel_renamed')).toMatchObject({
        old_name: channel.name,
        new_name: renamed,
      });
      await wsA.close();
      await aliceOnB.close();
      expect(await wsB.nextOf('user_left')).toMatchObject({ channel: renamed, username: alice.username });
      await ok(api(a, 'DELETE', `/api/chat/channels/${channel.id}`, { token: admin.token }));
      expect(await wsB.nextOf('channel_deleted')).toMatchObject({ channel: renamed });
    } finally {
      await closePortalClients();
      await cluster.stop();
    }
  }, 120_000);
});
