import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/identity';
import { ok, type Person, roomKit } from '../helpers/rooms';
import { adminCaller, NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { trpc } from '../helpers/trpc-http';

// The audit log (seed 002 "Audit Log MODERATOR+", API.md §8/§10) over HTTP: Admins read and filter
// everything through the admin router; channel moderators and room owners read their own part
// through `audit.list`; everyone else is refused.

let server: TestServer;
const { person, room } = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({ env: NO_REQUEST_LIMITS });
});
afterAll(() => server?.close());

let seq = 0;
const unique = (prefix = 'au') => `${prefix}-${process.pid}-${++seq}`;

type Entry = {
  id: number;
  action: string;
  actor: string;
  target_type: string;
  target_id: string;
  channel_id: number | null;
  room_id: number | null;
  created_at: string;
};
type Page = { entries: Entry[]; total: number; limit: number; offset: number };

const list = async (p: Person, input: Record<string, unknown> = {}, path = 'audit.list') => {
  const res = await trpc(server, p.token, 'query', path, input);
  return res as { status: number; data: Page; error?: { data: Record<string, unknown> } };
};

/** A channel created by `owner` (who moderates it), with a member who is then removed. */
async function channelWithHistory(owner: Person, visibility: 'public' | 'private') {
  const made = await ok(
    api(server, 'POST', '/api/chat/channels', { token: owner.token, body: { name: unique(), visibility } }),
  );
  const member = await person();
  const members = `/api/chat/channels/${made.id}/members`;
  await ok(api(server, 'POST', members, { token: owner.token, body: { user_id: member.id } }));
  await ok(api(server, 'DELETE', `${members}/${member.id}`, { token: owner.token }));
  return { id: made.id as number, member };
}

describe('access', () => {
  it('gives a channel moderator their channels only, a room owner their room, and refuses users', async () => {
    const admin = await person(2);
    const alice = await person();
    const bob = await person();
    const a = await channelWithHistory(alice, 'private');
    const b = await channelWithHistory(bob, 'private');
    await channelWithHistory(admin, 'public');

    const mine = await list(alice);
    expect(mine.status).toBe(200);
    expect(mine.data.entries.map((e) => e.action)).toEqual([
      'channel.member_remove',
      'channel.member_add',
      'channel.create',
    ]);
    expect(mine.data.entries.every((e) => e.channel_id === a.id)).toBe(true);
    expect(mine.data.total).toBe(3);

    const refused = await list(alice, { channel_id: b.id });
    expect(refused.status).toBe(403);
    expect(refused.error?.data).toMatchObject({ error: 'Moderator access required', status: 403 });
    expect((await list(alice, { target: `channel:${b.id}` })).data.entries).toEqual([]);

    // Users who moderate nothing (the removed member included) are refused outright.
    for (const p of [await person(), a.member]) {
      const res = await list(p);
      expect(res.status).toBe(403);
      expect(res.error?.data.error).toBe('Moderator access required');
    }
    // The admin router is for Admin+ only, whatever one moderates.
    expect((await list(alice, {}, 'admin.audit.list')).status).toBe(403);

    // Room moderation belongs to the room's owner and moderators.
    const r = await room(1);
    await ok(
      api(server, 'POST', `/chats/${r.id}/moderation/warn`, {
        token: r.owner.token,
        body: { user_id: r.members[0]!.id, reason: 'be nice' },
      }),
    );
    const roomLog = await list(r.owner, { room_id: r.id });
    expect(roomLog.data.entries).toMatchObject([
      { action: 'room.warn', room_id: r.id, target_id: String(r.members[0]!.id) },
    ]);
    expect((await list(r.members[0]!)).status).toBe(403);
    expect((await list(alice, { room_id: r.id })).status).toBe(403);

    // Admins read everything, through either router.
    const all = await list(admin, { limit: 1000 });
    const channels = new Set(all.data.entries.map((e) => e.channel_id));
    expect(channels).toContain(a.id);
    expect(channels).toContain(b.id);
    expect((await list(admin, { limit: 5 }, 'admin.audit.list')).data.entries).toHaveLength(5);
  });
});

describe('filters', () => {
  it('filters by actor, target, action, time and scope, and pages with a total', async () => {
    const admin = await person(2);
    const caller = adminCaller(server);
    const targets = [await person(), await person()];
    for (const t of targets) {
      await caller.users.warn({ username: t.username, reason: 'first' });
      await caller.users.warn({ username: t.username, reason: 'second' });
    }
    const a = await channelWithHistory(admin, 'public');
    const q = async (input: Record<string, unknown>) => {
      const res = await list(admin, input, 'admin.audit.list');
      expect(res.status, JSON.stringify(res.error)).toBe(200);
      return res.data;
    };

    const warns = await q({ action: 'user.warn', target: targets[0]!.username });
    expect(warns.total).toBe(2);
    expect(warns.entries.map((e) => e.target_id)).toEqual([String(targets[0]!.id), String(targets[0]!.id)]);
    expect((await q({ action: 'user.warn', target: `user:${targets[1]!.id}` })).total).toBe(2);
    expect((await q({ action: 'user.warn', target: `user:${targets[1]!.username}` })).total).toBe(2);

    const byAdmin = await q({ actor: admin.username });
    expect(byAdmin.entries.map((e) => e.action)).toEqual([
      'channel.member_remove',
      'channel.member_add',
      'channel.create',
    ]);
    expect((await q({ actor: String(admin.id) })).total).toBe(3);
    expect((await q({ actor: 'system', action: 'user.*', target: targets[0]!.username })).total).toBe(2);
    expect((await q({ action: 'channel.member_*', channel_id: a.id })).total).toBe(2);
    expect((await q({ target: 'channel:', channel_id: a.id })).total).toBe(3);

    const newest = byAdmin.entries[0]!;
    const oldest = byAdmin.entries[2]!;
    expect((await q({ actor: admin.username, since: newest.created_at })).entries[0]?.id).toBe(newest.id);
    expect((await q({ actor: admin.username, until: oldest.created_at })).entries.map((e) => e.id)).toEqual([
      oldest.id,
    ]);
    expect((await q({ actor: admin.username, since: '2999-01-01T00:00:00Z' })).total).toBe(0);

    const page = await q({ actor: admin.username, limit: 2, offset: 1 });
    expect(page).toMatchObject({ total: 3, limit: 2, offset: 1 });
    expect(page.entries.map((e) => e.id)).toEqual(byAdmin.entries.slice(1, 3).map((e) => e.id));
  });

  it('refuses bad filters with a sentence naming the field', async () => {
    const admin = await person(2);
    const cases: [Record<string, unknown>, RegExp | string][] = [
      [{ since: 'yesterday' }, 'since must be an ISO 8601 date-time'],
      [{ until: '2026-13-01' }, 'until must be an ISO 8601 date-time'],
      [{ action: 'DROP TABLE' }, 'action must be an action name, optionally ending in *'],
      [{ limit: 0 }, 'limit must be at least 1'],
      [{ limit: 1001 }, 'limit must be at most 1000'],
      [{ offset: -1 }, 'offset must be at least 0'],
      [{ colour: 'red' }, 'colour is not an allowed field'],
    ];
    for (const [input, message] of cases) {
      const res = await list(admin, input, 'admin.audit.list');
      expect(res.status, JSON.stringify(input)).toBe(400);
      expect(res.error?.data.error).toEqual(message);
    }
    const ghost = await list(admin, { target: 'nobody_at_all_here' }, 'admin.audit.list');
    expect(ghost.status).toBe(404);
    expect(ghost.error?.data.error).toBe('User not found');
  });
});
