import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, chatMessages, dmMessages, roomMessages, users } from '../../src/db/schema';
import {
  drain,
  expectError,
  joinChannel,
  joinedPeople,
  openChat,
  publicChannel,
} from '../helpers/chat-client';
import { api } from '../helpers/identity';
import { closePortalClients } from '../helpers/portal-client';
import { ok, type Person, refused, roomKit } from '../helpers/rooms';
import { adminCaller, NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { trpc } from '../helpers/trpc-http';

// Auto-moderation (seed 002 "Auto-Moderation", API.md §8) over real connections: rules made by an
// Admin through the admin router over HTTP, messages sent on /ws/chat (channels and DMs) and
// POST /chats/{id}/messages (room chat); each action with its audit entries, the bypass for
// moderators+, rule validation, and a pathological regex that must not stall the server.

let server: TestServer;
const { person, room } = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({ env: { ...NO_REQUEST_LIMITS, CHAT_RATE_MESSAGES: '1000' } });
});
afterAll(() => server?.close());
afterEach(async () => {
  await closePortalClients();
  // Every test starts without rules.
  const admin = adminCaller(server);
  for (const rule of (await admin.automod.list()).rules) await admin.automod.delete({ id: rule.id });
});

let seq = 0;
const unique = (prefix = 'am') => `${prefix}-${process.pid}-${++seq}`;
const db = () => server.deps.database.db;
const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');

let adminPerson: Person | undefined;
const anAdmin = async () => {
  adminPerson ??= await person(2);
  return adminPerson;
};

/** A rule made over HTTP by an Admin, as a tRPC client of the admin router does. */
async function addRule(rule: Record<string, unknown>) {
  const res = await trpc(server, (await anAdmin()).token, 'mutation', 'admin.automod.create', {
    name: unique('rule'),
    ...rule,
  });
  expect(res.status, JSON.stringify(res.error)).toBe(200);
  return res.data as { id: number; name: string };
}

/** A public channel and `n` users with sockets joined to it. */
async function channelWith(n: number) {
  const admin = await anAdmin();
  const channel = await publicChannel(server, admin, unique());
  return { channel, people: await joinedPeople(server, channel.name, n, () => person()) };
}

const triggers = (userId: number) =>
  db()
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.action, 'automod.trigger'), eq(auditLog.targetId, String(userId))));

const storedIn = async (channelId: number) =>
  (await db().select().from(chatMessages).where(eq(chatMessages.channelId, channelId))).length;

describe('rules', () => {
  it('refuses invalid rules with a sentence naming the problem, and non-admins', async () => {
    const admin = await anAdmin();
    const create = (rule: Record<string, unknown>) =>
      trpc(server, admin.token, 'mutation', 'admin.automod.create', { name: unique('bad'), ...rule });
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { kind: 'regex', action: 'block', config: { patterns: ['(a)\\1'] } },
        /^Pattern 1 is not a valid regular expression \(RE2 syntax; no backreferences or lookaround\)/,
      ],
      [
        { kind: 'regex', action: 'block', config: { patterns: ['ok', '(?=x)'] } },
        /^Pattern 2 is not a valid/,
      ],
      [{ kind: 'regex', action: 'block', config: { patterns: ['.{0,1000}x'] } }, /^Pattern 1 is too complex/],
      [{ kind: 'words', action: 'block', config: { words: [] } }, /words must have at least 1 items/],
      [{ kind: 'words', action: 'block', config: { words: ['***'] } }, /must contain a letter or digit/],
      [{ kind: 'shout', action: 'block', config: {} }, /kind/],
      [{ kind: 'caps', action: 'ban' }, /action must be one of block, delete, timeout, warn/],
      [
        { kind: 'caps', action: 'block', timeout_minutes: 5 },
        /timeout_minutes is only for the timeout action/,
      ],
      [
        { kind: 'links', action: 'block', config: { allowed_domains: ['not a host'] } },
        /must be a host name/,
      ],
      [{ kind: 'caps', action: 'block', contexts: ['forum'] }, /contexts/],
      [{ kind: 'mentions', action: 'block', config: { max_mentions: 0 } }, /max_mentions must be at least 1/],
    ];
    for (const [rule, message] of cases) {
      const res = await create(rule);
      expect(res.status, JSON.stringify(rule)).toBe(400);
      expect(res.error?.data.error).toMatch(message);
    }
    expect((await adminCaller(server).automod.list()).rules).toEqual([]);

    const made = await addRule({ kind: 'caps', action: 'warn', name: 'Shouting' });
    const twice = await create({ kind: 'caps', action: 'warn', name: 'shouting' });
    expect(twice.status).toBe(409);
    expect(twice.error?.data.error).toBe('A rule with this name already exists');
    const bad = await trpc(server, admin.token, 'mutation', 'admin.automod.update', {
      id: made.id,
      config: { max_percent: 500 },
    });
    expect(bad.status).toBe(400);
    expect(bad.error?.data.error).toMatch(/max_percent must be at most 99/);
    const missing = await trpc(server, admin.token, 'mutation', 'admin.automod.delete', { id: 999_999 });
    expect(missing.status).toBe(404);

    const user = await person();
    const denied = await trpc(server, user.token, 'query', 'admin.automod.list');
    expect(denied.status).toBe(403);
    expect(denied.error?.data.error).toBe('Admin access required');
  });

  it('audits rule changes and previews a text without acting', async () => {
    const rule = await addRule({
      kind: 'words',
      action: 'block',
      config: { words: ['spam*', 'free money'] },
    });
    const admin = adminCaller(server);
    await admin.automod.update({ id: rule.id, action: 'delete' });
    const preview = await admin.automod.test({ text: 'Get FREE   money now', context: 'channel' });
    expect(preview).toMatchObject({
      action: 'delete',
      triggered: [{ rule_id: rule.id, kind: 'words', what: 'it contains a blocked word' }],
    });
    expect((await admin.automod.test({ text: 'spammers everywhere' })).action).toBe('delete');
    expect((await admin.automod.test({ text: 'a spa day' })).action).toBeNull();
    const actions = (await admin.audit.list({ target: `automod_rule:${rule.id}` })).entries.map(
      (e) => e.action,
    );
    expect(actions).toEqual(['automod.rule_update', 'automod.rule_create']);
  });
});

describe('channel messages on /ws/chat', () => {
  it('block: refuses the message with the reason, stores and delivers nothing, audits the trigger', async () => {
    const rule = await addRule({ kind: 'words', action: 'block', config: { words: ['badword'] } });
    const { channel, people } = await channelWith(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'this has a BadWord in it' });
    await expectError(alice!.ws, 'Your message was blocked by auto-moderation: it contains a blocked word');
    expect(await drain(bob!.ws)).toEqual([]);
    expect(await storedIn(channel.id)).toBe(0);
    const [entry] = await triggers(alice!.id);
    expect(entry).toMatchObject({
      actorLabel: 'automod',
      actorUserId: null,
      targetType: 'user',
      channelId: channel.id,
      reason: `Rule "${rule.name}": it contains a blocked word`,
      details: { rule_id: rule.id, kind: 'words', applied: 'block', context: 'channel', word: 'badword' },
    });
    // The audit log never quotes the message.
    expect(JSON.stringify(entry)).not.toContain('this has a');

    alice!.ws.send({ type: 'message', channel: channel.name, message: 'a clean one' });
    expect((await bob!.ws.nextOf('message')).message).toBe('a clean one');
  });

  it('lets channel moderators and Admins through', async () => {
    await addRule({ kind: 'words', action: 'block', config: { words: ['badword'] } });
    const admin = await anAdmin();
    const { channel, people } = await channelWith(2);
    const [mod, bob] = people;
    // A public channel's readers are not members until added; then the creator promotes them.
    const members = `/api/chat/channels/${channel.id}/members`;
    await ok(api(server, 'POST', members, { token: admin.token, body: { user_id: mod!.id } }));
    await ok(
      api(server, 'PUT', `${members}/${mod!.id}`, { token: admin.token, body: { role: 'moderator' } }),
    );
    mod!.ws.send({ type: 'message', channel: channel.name, message: 'moderator says badword' });
    expect((await bob!.ws.nextOf('message')).message).toBe('moderator says badword');
    const adminWs = await openChat(server, admin.token);
    await joinChannel(adminWs, channel.name);
    adminWs.send({ type: 'message', channel: channel.name, message: 'admin says badword' });
    expect((await bob!.ws.nextOf('message')).message).toBe('admin says badword');
    // A moderator of this channel is an ordinary user in another one.
    const other = await publicChannel(server, admin, unique());
    await joinChannel(mod!.ws, other.name);
    mod!.ws.send({ type: 'message', channel: other.name, message: 'badword elsewhere' });
    await expectError(mod!.ws, /blocked by auto-moderation/);
    expect(await triggers(bob!.id)).toEqual([]);
  });

  it('delete: stores nothing, and an edit that breaks the rule removes the original message', async () => {
    await addRule({ kind: 'invites', action: 'delete' });
    const { channel, people } = await channelWith(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'join us at discord.gg/abcdef' });
    await expectError(alice!.ws, 'Your message was deleted by auto-moderation: invite links are not allowed');
    expect(await storedIn(channel.id)).toBe(0);

    alice!.ws.send({ type: 'message', channel: channel.name, message: 'innocent' });
    const sent = await bob!.ws.nextOf('message');
    alice!.ws.send({ type: 'edit_message', message_id: sent.id, message: 'now https://t.me/+secretgroup' });
    expect(await bob!.ws.nextOf('message_deleted')).toMatchObject({ message_id: sent.id });
    await expectError(alice!.ws, /deleted by auto-moderation/);
    expect(await storedIn(channel.id)).toBe(0);
    const entries = await triggers(alice!.id);
    expect(entries.map((e) => e.details)).toEqual([
      expect.objectContaining({ applied: 'delete', edit: false, invites: 1 }),
      expect.objectContaining({ applied: 'delete', edit: true, invites: 1 }),
    ]);
  });

  it('warn: the message goes through and its author gets a moderation notification', async () => {
    const rule = await addRule({ kind: 'caps', action: 'warn', config: { max_percent: 50, min_letters: 5 } });
    const { channel, people } = await channelWith(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'WHY IS NOBODY ANSWERING' });
    expect((await bob!.ws.nextOf('message')).message).toBe('WHY IS NOBODY ANSWERING');
    const inbox = await ok(api(server, 'GET', '/notifications', { token: alice!.token }));
    expect(inbox.notifications[0]).toMatchObject({
      type: 'moderation',
      title: 'Warning',
      message: `You were warned: Auto-moderation: too many capital letters (rule "${rule.name}")`,
    });
    const punishments = await ok(api(server, 'GET', '/users/me/punishments', { token: alice!.token }));
    expect(JSON.stringify(punishments)).toContain('warn');
    expect((await triggers(alice!.id))[0]?.details).toMatchObject({ applied: 'warn', caps_percent: 100 });
    const warned = await adminCaller(server).audit.list({ action: 'user.warn', target: `user:${alice!.id}` });
    expect(warned.total).toBe(1);
  });

  it('timeout: stores nothing and times the author out site-wide, with audit entries', async () => {
    const rule = await addRule({
      kind: 'mentions',
      action: 'timeout',
      timeout_minutes: 15,
      config: { max_mentions: 2 },
    });
    const { channel, people } = await channelWith(2);
    const [alice, bob] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: '@a_b_c @d_e_f @g_h_i look' });
    const frame = await expectError(
      alice!.ws,
      'You were timed out by auto-moderation: too many mentions (at most 2)',
    );
    expect(frame).toBeDefined();
    expect(await drain(bob!.ws)).toEqual([]);
    const me = await ok(api(server, 'GET', '/users/me', { token: alice!.token }));
    expect(me.state).toBe(1);
    const [row] = await db().select().from(users).where(eq(users.id, alice!.id));
    const minutes = (row!.stateExpiresAt!.getTime() - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(13);
    expect(minutes).toBeLessThanOrEqual(15);
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'hello?' });
    await expectError(alice!.ws, 'Your account is temporarily restricted');
    expect(await storedIn(channel.id)).toBe(0);
    expect((await triggers(alice!.id))[0]).toMatchObject({
      reason: `Rule "${rule.name}": too many mentions (at most 2)`,
      details: { applied: 'timeout', mentions: 3 },
    });
    const timeout = await adminCaller(server).audit.list({
      action: 'user.timeout',
      target: `user:${alice!.id}`,
    });
    expect(timeout.entries[0]).toMatchObject({ actor: 'system', details: { minutes: 15 } });
  });

  it('flood: the same text more often than allowed in the window is refused', async () => {
    await addRule({ kind: 'flood', action: 'block', config: { max_repeats: 2, window_seconds: 3600 } });
    const { channel, people } = await channelWith(2);
    const [alice, bob] = people;
    for (const text of ['Buy now', 'buy   NOW']) {
      alice!.ws.send({ type: 'message', channel: channel.name, message: text });
      await bob!.ws.nextOf('message');
    }
    alice!.ws.send({ type: 'message', channel: channel.name, message: ' BUY now ' });
    await expectError(
      alice!.ws,
      'Your message was blocked by auto-moderation: the same message was sent too many times',
    );
    // Another text, and the same text from someone else, are not part of alice's flood.
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'something else' });
    expect((await bob!.ws.nextOf('message')).message).toBe('something else');
    bob!.ws.send({ type: 'message', channel: channel.name, message: 'buy now' });
    expect((await bob!.ws.nextOf('message')).message).toBe('buy now');
    expect(await storedIn(channel.id)).toBe(4);
  });

  it('limits rules to their channels and contexts, and checks poll options', async () => {
    const { channel, people } = await channelWith(1);
    const other = await channelWith(1);
    await addRule({
      kind: 'links',
      action: 'block',
      channel_ids: [channel.id],
      config: { allowed_domains: ['example.org'] },
    });
    await addRule({ kind: 'words', action: 'block', contexts: ['dm'], config: { words: ['secret'] } });
    const [alice] = people;
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'see http://docs.example.org/x' });
    await alice!.ws.nextOf('message');
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'see evil.com/x and a secret' });
    await expectError(alice!.ws, 'Your message was blocked by auto-moderation: links are not allowed');
    const [carol] = other.people;
    carol!.ws.send({ type: 'message', channel: other.channel.name, message: 'see evil.com/x and a secret' });
    await carol!.ws.nextOf('message');

    await addRule({ kind: 'words', action: 'block', config: { words: ['forbidden'] } });
    carol!.ws.send({
      type: 'create_poll',
      channel: other.channel.name,
      question: 'Pick one',
      options: ['fine', 'forbidden fruit'],
    });
    await expectError(carol!.ws, /blocked by auto-moderation/);
  });

  it('a pathological regex does not stall the server', async () => {
    // `(a+)+$` backtracks exponentially on the built-in engine against "aaaa…!"; RE2 is linear.
    await addRule({ kind: 'regex', action: 'block', config: { patterns: ['(a+)+$'] } });
    const { channel, people } = await channelWith(2);
    const [alice, bob] = people;
    const evil = `${'a'.repeat(3_990)}!`;
    alice!.ws.send({ type: 'message', channel: channel.name, message: evil });
    // Served while the message is being checked: the event loop is free.
    const [health, delivered] = await Promise.all([api(server, 'GET', '/health'), bob!.ws.nextOf('message')]);
    expect(health.status).toBe(200);
    expect(delivered.message).toBe(evil);
    // Checked in full, well within the deadline: not let through as unchecked.
    const unchecked = await adminCaller(server).audit.list({
      action: 'automod.unchecked',
      target: `user:${alice!.id}`,
    });
    expect(unchecked.total).toBe(0);
    alice!.ws.send({ type: 'message', channel: channel.name, message: 'a'.repeat(3_990) });
    await expectError(alice!.ws, 'Your message was blocked by auto-moderation: it matches a blocked pattern');
    expect((await triggers(alice!.id))[0]?.details).toMatchObject({ pattern: '(a+)+$' });
  });
});

describe('DMs and room chat', () => {
  it('checks DMs and their edits; Admins bypass', async () => {
    await addRule({ kind: 'words', action: 'block', contexts: ['dm'], config: { words: ['scam'] } });
    const alice = await person();
    const bob = await person();
    const convo = await ok(
      api(server, 'POST', '/api/dm/conversations', { token: alice.token, body: { user_id: bob.id } }),
    );
    const aliceWs = await openChat(server, alice.token);
    aliceWs.send({ type: 'dm_message', conversation_id: convo.id, message: 'this is a scam' });
    await expectError(aliceWs, 'Your message was blocked by auto-moderation: it contains a blocked word');
    aliceWs.send({ type: 'dm_message', conversation_id: convo.id, message: 'hi' });
    const sent = await aliceWs.nextOf('dm_message');
    aliceWs.send({ type: 'dm_edit', conversation_id: convo.id, message_id: sent.id, message: 'scam' });
    await expectError(aliceWs, /blocked by auto-moderation/);
    const rows = await db()
      .select()
      .from(dmMessages)
      .where(eq(dmMessages.conversationId, convo.id as number));
    expect(rows).toHaveLength(1);
    // With `delete`, an edit that breaks the rule takes the original message with it.
    await addRule({ kind: 'words', action: 'delete', contexts: ['dm'], config: { words: ['purge'] } });
    aliceWs.send({ type: 'dm_edit', conversation_id: convo.id, message_id: sent.id, message: 'purge' });
    expect(await aliceWs.nextOf('dm_message_deleted')).toMatchObject({ message_id: sent.id });
    await expectError(aliceWs, 'Your message was deleted by auto-moderation: it contains a blocked word');
    const left = await db()
      .select()
      .from(dmMessages)
      .where(eq(dmMessages.conversationId, convo.id as number));
    expect(left).toEqual([]);
    const entries = await triggers(alice.id);
    expect(entries[0]?.details).toMatchObject({ context: 'dm', conversation_id: convo.id });
    expect(entries[0]?.channelId).toBeNull();

    const admin = await anAdmin();
    const adminConvo = await ok(
      api(server, 'POST', '/api/dm/conversations', { token: admin.token, body: { user_id: bob.id } }),
    );
    const adminWs = await openChat(server, admin.token);
    adminWs.send({ type: 'dm_message', conversation_id: adminConvo.id, message: 'not a scam' });
    expect((await adminWs.nextOf('dm_message')).message).toBe('not a scam');
  });

  it('checks plain room messages; the room owner bypasses; end-to-end messages pass unread', async () => {
    await addRule({ kind: 'words', action: 'block', contexts: ['room'], config: { words: ['badword'] } });
    const r = await room(1);
    const member = r.members[0]!;
    const send = (p: Person, body: Record<string, unknown>) =>
      api(server, 'POST', `/chats/${r.id}/messages`, { token: p.token, body });
    const res = await refused(
      send(member, { content: 'a badword here' }),
      403,
      'Your message was blocked by auto-moderation: it contains a blocked word',
    );
    expect(res.body.reason).toBe('automod');
    await ok(send(r.owner, { content: 'owner says badword' }));
    const key = await ok(
      api(server, 'POST', `/chats/${r.id}/keys`, { token: member.token, body: { public_key: b64(32) } }),
    );
    await ok(send(member, { ciphertext: b64(48), nonce: b64(12), key_ids: [key.key_id] }));
    const stored = await db().select().from(roomMessages).where(eq(roomMessages.roomId, r.id));
    expect(stored).toHaveLength(2);
    expect((await triggers(member.id))[0]).toMatchObject({ roomId: r.id, details: { context: 'room' } });
  });
});

describe('regex rules past their deadline', () => {
  let slow: TestServer;
  beforeAll(async () => {
    slow = await startTestServer({ env: { ...NO_REQUEST_LIMITS, AUTOMOD_REGEX_TIMEOUT_MS: '10' } });
  });
  afterAll(() => slow?.close());

  it('let the message through unchecked by them, say so in the audit log, and never hold the server', async () => {
    const admin = adminCaller(slow);
    // Ten rules at the size cap against a 4,000-character text: far longer than 10 ms.
    for (let i = 0; i < 10; i++) {
      await admin.automod.create({
        name: `heavy ${i}`,
        kind: 'regex',
        action: 'block',
        config: { patterns: ['.{0,490}x$'] },
      });
    }
    const kit = roomKit(() => slow);
    const owner = await kit.person(2);
    const channel = await publicChannel(slow, owner, unique());
    const [alice, bob] = await joinedPeople(slow, channel.name, 2, () => kit.person());
    const text = `${'a'.repeat(3_990)}xb`;
    alice!.ws.send({ type: 'message', channel: channel.name, message: text });
    const [health, delivered] = await Promise.all([api(slow, 'GET', '/health'), bob!.ws.nextOf('message')]);
    expect(health.status).toBe(200);
    expect(delivered.message).toBe(text);
    const { entries } = await admin.audit.list({ action: 'automod.unchecked' });
    expect(entries[0]).toMatchObject({
      actor: 'automod',
      target_id: String(alice!.id),
      channel_id: channel.id,
      details: { context: 'channel', length: text.length },
    });
    expect((entries[0]!.details as { rule_ids: number[] }).rule_ids).toHaveLength(10);
  });
});
