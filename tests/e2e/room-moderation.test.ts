import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, roomBans, roomMembers } from '../../src/db/schema';
import { api } from '../helpers/identity';
import { closePortalClients } from '../helpers/portal-client';
import { ISO, type Json, ok, type Person, refused, roomKit } from '../helpers/rooms';
import { startTestServer, type TestServer } from '../helpers/server';

// Per-room moderation of API.md §5 over real HTTP: kick, ban/unban, mute/unmute, timeout, warn;
// the hierarchy (owner > moderator > member, site Admins at least moderators); the room log, the
// audit log, the target's notification and the `moderation` room event on /ws/portal.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: { RATE_LIMIT_LOGIN: '100000', RATE_LIMIT_AUTH: '100000', RATE_LIMIT_ADMIN: '100000' },
  });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

const db = () => server.deps.database.db;
const { person, room: plainRoom, join, listen } = roomKit(() => server);

/** Owner (an Admin), one room moderator and `members` plain members, all through HTTP. */
async function room(members = 2) {
  const r = await plainRoom(0, { name: 'moderated' });
  const moderator = await join(r.code);
  await ok(
    api(server, 'PUT', `/chats/${r.id}/members/${moderator.id}`, {
      token: r.owner.token,
      body: { role: 'moderator' },
    }),
  );
  const joined: Person[] = [];
  for (let i = 0; i < members; i++) joined.push(await join(r.code));
  return { ...r, moderator, members: joined };
}

const moderate = (token: string, roomId: number, action: string, body: Record<string, unknown>) =>
  api(server, 'POST', `/chats/${roomId}/moderation/${action}`, { token, body });

const send = (token: string, roomId: number, content = 'hello') =>
  api(server, 'POST', `/chats/${roomId}/messages`, { token, body: { content } });

async function notificationsOf(p: Person) {
  const body = await ok(api(server, 'GET', '/notifications', { token: p.token }));
  return body.notifications as Json[];
}

async function auditOf(action: string, targetId: number) {
  return db()
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.action, action), eq(auditLog.targetId, String(targetId))));
}

describe('mute and unmute', () => {
  it('mutes for a while: send refused with expires_at, notified, logged, audited, pushed', async () => {
    const r = await room(1);
    const [target] = r.members as [Person];
    const socket = await listen(r.owner.token, r.id);
    const entry = await ok(
      moderate(r.moderator.token, r.id, 'mute', { user_id: target.id, reason: 'spam', duration_minutes: 10 }),
    );
    expect(entry).toEqual({
      id: expect.any(Number),
      room_id: r.id,
      action: 'mute',
      user_id: target.id,
      username: target.username,
      actor_id: r.moderator.id,
      actor_username: r.moderator.username,
      reason: 'spam',
      duration_minutes: 10,
      expires_at: expect.stringMatching(ISO),
      created_at: expect.stringMatching(ISO),
    });
    const minutesLeft = (Date.parse(entry.expires_at) - Date.now()) / 60_000;
    expect(minutesLeft).toBeGreaterThan(9);
    expect(minutesLeft).toBeLessThanOrEqual(10);

    const denied = await refused(send(target.token, r.id), 403, 'You are muted in this chat');
    expect(denied.body).toMatchObject({ reason: 'room_muted', expires_at: entry.expires_at });

    expect(await socket.nextOf('moderation')).toEqual({
      type: 'moderation',
      room_id: r.id,
      action: 'mute',
      user_id: target.id,
      actor_id: r.moderator.id,
      reason: 'spam',
      expires_at: entry.expires_at,
    });

    const [notice] = await notificationsOf(target);
    expect(notice).toMatchObject({
      type: 'moderation',
      title: 'Muted in a chat',
      link: `/chats/${r.id}`,
      data: { action: 'mute', room_id: r.id, reason: 'spam', expires_at: entry.expires_at },
    });
    expect(notice!.message).toContain(r.name);

    const [audit] = await auditOf('room.mute', target.id);
    expect(audit).toMatchObject({
      actorUserId: r.moderator.id,
      targetType: 'user',
      reason: 'spam',
      details: { room_id: r.id, duration_minutes: 10, expires_at: entry.expires_at },
    });

    const members = await ok(api(server, 'GET', `/chats/${r.id}/members`, { token: target.token }));
    const listed = members.members.find((m: { user_id: number }) => m.user_id === target.id);
    expect(listed).toMatchObject({ muted: true, muted_until: entry.expires_at, timed_out: false });

    const lifted = await ok(moderate(r.moderator.token, r.id, 'unmute', { user_id: target.id }));
    expect(lifted).toMatchObject({ action: 'unmute', user_id: target.id, expires_at: null });
    await ok(send(target.token, r.id, 'back again'));
  });

  it('mutes without a duration until unmuted (no expires_at anywhere)', async () => {
    const r = await room(1);
    const [target] = r.members as [Person];
    const entry = await ok(moderate(r.owner.token, r.id, 'mute', { user_id: target.id }));
    expect(entry).toMatchObject({ action: 'mute', duration_minutes: null, expires_at: null, reason: null });
    const denied = await refused(send(target.token, r.id), 403, 'You are muted in this chat');
    expect(denied.body).not.toHaveProperty('expires_at');
    const [notice] = await notificationsOf(target);
    expect(notice).toMatchObject({ data: { action: 'mute', expires_at: null } });
    expect(notice!.message).toContain('until a moderator unmutes you');
    // Muted until unmuted is visible as such, apart from "not muted".
    const row = async () =>
      (
        (await ok(api(server, 'GET', `/chats/${r.id}/members`, { token: r.owner.token }))).members as Json[]
      ).find((m) => m.user_id === target.id);
    expect(await row()).toMatchObject({
      muted: true,
      muted_until: null,
      timed_out: false,
      timeout_until: null,
    });
    await ok(moderate(r.owner.token, r.id, 'unmute', { user_id: target.id }));
    expect(await row()).toMatchObject({ muted: false, muted_until: null });
    await ok(send(target.token, r.id));
  });

  it('keeps a mute and a timeout across leaving and rejoining', async () => {
    const r = await room(2);
    const [muted, timedOut] = r.members as [Person, Person];
    await ok(moderate(r.owner.token, r.id, 'mute', { user_id: muted.id }));
    await ok(moderate(r.owner.token, r.id, 'timeout', { user_id: timedOut.id, duration_minutes: 30 }));
    for (const who of [muted, timedOut]) {
      await ok(api(server, 'POST', `/chats/${r.id}/leave`, { token: who.token }));
      await ok(api(server, 'POST', `/chats/join/${r.code}`, { token: who.token }));
    }
    await refused(send(muted.token, r.id), 403, 'You are muted in this chat');
    await refused(send(timedOut.token, r.id), 403, 'You are timed out in this chat');
    const members = await ok(api(server, 'GET', `/chats/${r.id}/members`, { token: r.owner.token }));
    const row = (id: number) => (members.members as Json[]).find((m) => m.user_id === id)!;
    expect(row(muted.id)).toMatchObject({ muted: true, muted_until: null });
    expect(row(timedOut.id)).toMatchObject({ timed_out: true, timeout_until: expect.stringMatching(ISO) });
  });
});

describe('timeout and warn', () => {
  it('times out for duration_minutes (10 minutes when left out): no sending until it ends', async () => {
    const r = await room(1);
    const [target] = r.members as [Person];
    const byDefault = await ok(moderate(r.owner.token, r.id, 'timeout', { user_id: target.id }));
    expect(byDefault).toMatchObject({ action: 'timeout', duration_minutes: 10 });
    const defaultLeft = (Date.parse(byDefault.expires_at) - Date.now()) / 60_000;
    expect(defaultLeft).toBeGreaterThan(9);
    expect(defaultLeft).toBeLessThanOrEqual(10);
    await refused(
      moderate(r.owner.token, r.id, 'timeout', { user_id: target.id, duration_minutes: 43_201 }),
      400,
      'duration_minutes must be at most 43200',
    );
    const entry = await ok(
      moderate(r.owner.token, r.id, 'timeout', {
        user_id: target.id,
        duration_minutes: 5,
        reason: 'cool off',
      }),
    );
    expect(entry).toMatchObject({
      action: 'timeout',
      duration_minutes: 5,
      expires_at: expect.stringMatching(ISO),
    });
    const denied = await refused(send(target.token, r.id), 403, 'You are timed out in this chat');
    expect(denied.body).toMatchObject({ reason: 'room_timeout', expires_at: entry.expires_at });
    const [notice] = await notificationsOf(target);
    expect(notice).toMatchObject({
      title: 'Timed out in a chat',
      data: { action: 'timeout', room_id: r.id, expires_at: entry.expires_at },
    });
    expect(notice!.message).toContain('5 minutes');
    expect(await auditOf('room.timeout', target.id)).toHaveLength(2);

    // Once the timeout has passed (moved into the past here), the member talks again.
    await db()
      .update(roomMembers)
      .set({ timeoutUntil: new Date(Date.now() - 1000) })
      .where(and(eq(roomMembers.roomId, r.id), eq(roomMembers.userId, target.id)));
    await ok(send(target.token, r.id, 'patience paid off'));
  });

  it('warns: recorded, notified, and the member may still talk', async () => {
    const r = await room(1);
    const [target] = r.members as [Person];
    const entry = await ok(
      moderate(r.moderator.token, r.id, 'warn', { user_id: target.id, reason: 'be nice' }),
    );
    expect(entry).toMatchObject({ action: 'warn', reason: 'be nice', expires_at: null });
    const [notice] = await notificationsOf(target);
    expect(notice).toMatchObject({
      type: 'moderation',
      title: 'Warning in a chat',
      link: `/chats/${r.id}`,
      data: { action: 'warn', room_id: r.id, reason: 'be nice' },
    });
    await ok(send(target.token, r.id));
  });
});

describe('duration_minutes on every action (API.md §5)', () => {
  it('is accepted by kick, warn, unban and unmute, validated, and has no effect there', async () => {
    const r = await room(2);
    const [a, b] = r.members as [Person, Person];
    const warned = await ok(moderate(r.owner.token, r.id, 'warn', { user_id: a.id, duration_minutes: 5 }));
    expect(warned).toMatchObject({ action: 'warn', duration_minutes: null, expires_at: null });
    await ok(send(a.token, r.id, 'a warning silences nobody'));
    await ok(moderate(r.owner.token, r.id, 'mute', { user_id: a.id }));
    const unmuted = await ok(moderate(r.owner.token, r.id, 'unmute', { user_id: a.id, duration_minutes: 5 }));
    expect(unmuted).toMatchObject({ action: 'unmute', duration_minutes: null, expires_at: null });
    await ok(send(a.token, r.id, 'unmuted at once'));
    await ok(moderate(r.owner.token, r.id, 'ban', { user_id: b.id }));
    const unbanned = await ok(moderate(r.owner.token, r.id, 'unban', { user_id: b.id, duration_minutes: 5 }));
    expect(unbanned).toMatchObject({ action: 'unban', duration_minutes: null });
    await ok(api(server, 'POST', `/chats/join/${r.code}`, { token: b.token }));
    const kicked = await ok(moderate(r.owner.token, r.id, 'kick', { user_id: b.id, duration_minutes: 5 }));
    expect(kicked).toMatchObject({ action: 'kick', duration_minutes: null, expires_at: null });
    // A kick is not a ban, whatever duration came with it.
    await ok(api(server, 'POST', `/chats/join/${r.code}`, { token: b.token }));
    for (const action of ['kick', 'warn', 'unban', 'unmute']) {
      await refused(
        moderate(r.owner.token, r.id, action, { user_id: a.id, duration_minutes: 0 }),
        400,
        'duration_minutes must be at least 1',
      );
    }
  });

  it('bans for duration_minutes: no rejoin (with expires_at) until the ban lapses', async () => {
    const r = await room(1);
    const [target] = r.members as [Person];
    const entry = await ok(
      moderate(r.owner.token, r.id, 'ban', { user_id: target.id, duration_minutes: 5, reason: 'cool off' }),
    );
    expect(entry).toMatchObject({
      action: 'ban',
      duration_minutes: 5,
      expires_at: expect.stringMatching(ISO),
    });
    const [ban] = await db()
      .select()
      .from(roomBans)
      .where(and(eq(roomBans.roomId, r.id), eq(roomBans.userId, target.id)));
    expect(ban!.expiresAt?.toISOString()).toBe(entry.expires_at);
    const denied = await refused(
      api(server, 'POST', `/chats/join/${r.code}`, { token: target.token }),
      403,
      'You are banned from this chat',
    );
    expect(denied.body).toMatchObject({ reason: 'room_banned', expires_at: entry.expires_at });
    const [notice] = await notificationsOf(target);
    expect(notice).toMatchObject({ title: 'Banned from a chat', data: { expires_at: entry.expires_at } });
    expect(notice!.message).toContain('for 5 minutes');

    // Once it has lapsed (moved into the past here) the user rejoins, and there is nothing to lift.
    await db()
      .update(roomBans)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(and(eq(roomBans.roomId, r.id), eq(roomBans.userId, target.id)));
    await refused(
      moderate(r.owner.token, r.id, 'unban', { user_id: target.id }),
      404,
      'User is not banned from this chat',
    );
    await ok(api(server, 'POST', `/chats/join/${r.code}`, { token: target.token }));
  });
});

describe('kick and ban', () => {
  it('kicks: removed at once (socket told), may rejoin by invite', async () => {
    const r = await room(2);
    const [target, witness] = r.members as [Person, Person];
    const targetSocket = await listen(target.token, r.id);
    const witnessSocket = await listen(witness.token, r.id);
    const entry = await ok(moderate(r.moderator.token, r.id, 'kick', { user_id: target.id, reason: 'out' }));
    expect(entry).toMatchObject({ action: 'kick', user_id: target.id, actor_id: r.moderator.id });

    expect(await witnessSocket.nextOf('moderation')).toMatchObject({ action: 'kick', user_id: target.id });
    expect(await witnessSocket.nextOf('member_left')).toMatchObject({ user_id: target.id, reason: 'kicked' });
    expect(await targetSocket.nextOf('room_left')).toMatchObject({ room_id: r.id });

    await refused(api(server, 'GET', `/chats/${r.id}`, { token: target.token }), 404, 'Chat not found');
    await refused(send(target.token, r.id), 404, 'Chat not found');
    const [notice] = await notificationsOf(target);
    expect(notice).toMatchObject({ title: 'Removed from a chat', data: { action: 'kick', room_id: r.id } });
    const [audit] = await auditOf('room.kick', target.id);
    expect(audit).toMatchObject({ actorUserId: r.moderator.id, reason: 'out', details: { room_id: r.id } });

    await ok(api(server, 'POST', `/chats/join/${r.code}`, { token: target.token }));
    await ok(send(target.token, r.id, 'I am back'));
  });

  it('bans: removed, cannot rejoin (403) until unbanned', async () => {
    const r = await room(2);
    const [target, witness] = r.members as [Person, Person];
    const targetSocket = await listen(target.token, r.id);
    const witnessSocket = await listen(witness.token, r.id);
    const entry = await ok(moderate(r.owner.token, r.id, 'ban', { user_id: target.id, reason: 'abuse' }));
    // The banned member's socket leaves the room's topic at once; the room hears why.
    expect(await targetSocket.nextOf('room_left')).toEqual({
      type: 'room_left',
      room_id: r.id,
      reason: 'banned',
    });
    expect(await witnessSocket.nextOf('member_left')).toMatchObject({ user_id: target.id, reason: 'banned' });
    await ok(send(r.owner.token, r.id, 'after the ban'));
    expect((await witnessSocket.nextOf('chat_message')).message).toMatchObject({ content: 'after the ban' });
    await expect(targetSocket.nextOf('chat_message', 500)).rejects.toThrow(/no chat_message message/);
    expect(entry).toMatchObject({ action: 'ban', user_id: target.id, reason: 'abuse', expires_at: null });
    const [ban] = await db()
      .select()
      .from(roomBans)
      .where(and(eq(roomBans.roomId, r.id), eq(roomBans.userId, target.id)));
    expect(ban).toMatchObject({ actorUserId: r.owner.id, reason: 'abuse' });

    await refused(api(server, 'GET', `/chats/${r.id}`, { token: target.token }), 404, 'Chat not found');
    const rejoin = await refused(
      api(server, 'POST', `/chats/join/${r.code}`, { token: target.token }),
      403,
      'You are banned from this chat',
    );
    expect(rejoin.body.reason).toBe('room_banned');
    const [notice] = await notificationsOf(target);
    expect(notice).toMatchObject({
      title: 'Banned from a chat',
      data: { action: 'ban', room_id: r.id, expires_at: null },
    });

    await ok(moderate(r.moderator.token, r.id, 'unban', { user_id: target.id }));
    await refused(
      moderate(r.moderator.token, r.id, 'unban', { user_id: target.id }),
      404,
      'User is not banned from this chat',
    );
    await ok(api(server, 'POST', `/chats/join/${r.code}`, { token: target.token }));
  });

  it('bans a user who is not a member, so they cannot join', async () => {
    const r = await room(0);
    const stranger = await person();
    await ok(moderate(r.moderator.token, r.id, 'ban', { user_id: stranger.id }));
    await refused(
      api(server, 'POST', `/chats/join/${r.code}`, { token: stranger.token }),
      403,
      'You are banned from this chat',
    );
    await refused(moderate(r.moderator.token, r.id, 'ban', { user_id: 999_999 }), 404, 'User not found');
  });
});

describe('who may moderate whom', () => {
  it('refuses upwards, sideways, on self, from members and outsiders', async () => {
    const r = await room(2);
    const [a, b] = r.members as [Person, Person];
    // A member moderating the owner, or another member: not a moderator at all.
    await refused(moderate(a.token, r.id, 'kick', { user_id: r.owner.id }), 403, 'Moderator access required');
    await refused(moderate(a.token, r.id, 'warn', { user_id: b.id }), 403, 'Moderator access required');
    // A moderator on the owner, or on another moderator.
    await refused(
      moderate(r.moderator.token, r.id, 'mute', { user_id: r.owner.id }),
      403,
      'You can only moderate members below you',
    );
    await ok(
      api(server, 'PUT', `/chats/${r.id}/members/${b.id}`, {
        token: r.owner.token,
        body: { role: 'moderator' },
      }),
    );
    await refused(
      moderate(r.moderator.token, r.id, 'ban', { user_id: b.id }),
      403,
      'You can only moderate members below you',
    );
    // A site Admin who is a plain member ranks as a moderator: a moderator cannot act on them.
    const siteAdmin = await person(2);
    await ok(api(server, 'POST', `/chats/join/${r.code}`, { token: siteAdmin.token }));
    await refused(
      moderate(r.moderator.token, r.id, 'kick', { user_id: siteAdmin.id }),
      403,
      'You can only moderate members below you',
    );
    // Self, unknown members, outsiders.
    await refused(
      moderate(r.moderator.token, r.id, 'warn', { user_id: r.moderator.id }),
      400,
      'You cannot moderate yourself',
    );
    await refused(
      moderate(r.owner.token, r.id, 'kick', { user_id: r.owner.id }),
      400,
      'You cannot moderate yourself',
    );
    const stranger = await person();
    await refused(moderate(r.owner.token, r.id, 'kick', { user_id: stranger.id }), 404, 'Member not found');
    await refused(moderate(r.owner.token, r.id, 'mute', { user_id: 999_999 }), 404, 'Member not found');
    await refused(moderate(stranger.token, r.id, 'kick', { user_id: a.id }), 404, 'Chat not found');
    await refused(moderate(r.owner.token, r.id, 'kick', {}), 400, 'user_id is required');
    await refused(
      moderate(r.owner.token, r.id, 'kick', { user_id: String(a.id) }),
      400,
      'user_id must be a number',
    );
    await refused(
      moderate(r.owner.token, r.id, 'kick', { user_id: a.id, reason: 'x'.repeat(501) }),
      400,
      'reason must be at most 500 characters',
    );
  });

  it('lets a site Owner moderate a room owner; Admins and room moderators stay below them', async () => {
    const r = await room(0);
    const siteOwner = await person(3);
    await ok(moderate(siteOwner.token, r.id, 'warn', { user_id: r.owner.id, reason: 'site rules' }));
    await ok(moderate(siteOwner.token, r.id, 'mute', { user_id: r.owner.id, duration_minutes: 1 }));
    await refused(send(r.owner.token, r.id), 403, 'You are muted in this chat');
    // A site Owner who is a member ranks above the room's owner and moderators.
    await ok(api(server, 'POST', `/chats/join/${r.code}`, { token: siteOwner.token }));
    await refused(
      moderate(r.owner.token, r.id, 'kick', { user_id: siteOwner.id }),
      403,
      'You can only moderate members below you',
    );
  });

  it('lets a site Admin who is not a member moderate members', async () => {
    const r = await room(1);
    const [target] = r.members as [Person];
    const admin = await person(2);
    await ok(moderate(admin.token, r.id, 'warn', { user_id: target.id }));
    await refused(
      moderate(admin.token, r.id, 'warn', { user_id: r.owner.id }),
      403,
      'You can only moderate members below you',
    );
  });
});

describe('moderation log', () => {
  it('lists actions newest first with paging, for moderator+ only', async () => {
    const r = await room(1);
    const [target] = r.members as [Person];
    await ok(moderate(r.moderator.token, r.id, 'warn', { user_id: target.id, reason: 'first' }));
    await ok(moderate(r.moderator.token, r.id, 'mute', { user_id: target.id, duration_minutes: 1 }));
    await ok(moderate(r.owner.token, r.id, 'unmute', { user_id: target.id }));

    const log = await ok(api(server, 'GET', `/chats/${r.id}/moderation`, { token: r.moderator.token }));
    expect(log.entries.map((e: { action: string }) => e.action)).toEqual(['unmute', 'mute', 'warn']);
    expect(log.entries[2]).toMatchObject({
      room_id: r.id,
      user_id: target.id,
      username: target.username,
      actor_id: r.moderator.id,
      actor_username: r.moderator.username,
      reason: 'first',
    });
    expect(log).toMatchObject({ total: 3, limit: 50, offset: 0 });
    const page = await ok(
      api(server, 'GET', `/chats/${r.id}/moderation?limit=1&offset=1`, { token: r.owner.token }),
    );
    expect(page.entries.map((e: { action: string }) => e.action)).toEqual(['mute']);
    expect(page).toMatchObject({ total: 3, limit: 1, offset: 1 });

    await refused(
      api(server, 'GET', `/chats/${r.id}/moderation`, { token: target.token }),
      403,
      'Moderator access required',
    );
    const stranger = await person();
    await refused(
      api(server, 'GET', `/chats/${r.id}/moderation`, { token: stranger.token }),
      404,
      'Chat not found',
    );
  });
});
