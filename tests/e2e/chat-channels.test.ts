import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../../src/db/schema';
import { createChannel } from '../../src/services/chat/channels';
import { STATE } from '../../src/services/users/policy';
import { api } from '../helpers/identity';
import { ok, refused, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// Channels of API.md §8 over real HTTP: listing, creating, changing, deleting, members and roles,
// with the seed's permission rules and the audit log.

let server: TestServer;
const kit = roomKit(() => server);
const { person } = kit;

beforeAll(async () => {
  server = await startTestServer({
    env: NO_REQUEST_LIMITS,
  });
});
afterAll(() => server?.close());

let seq = 0;
const unique = (prefix = 'ch') => `${prefix}-${process.pid}-${++seq}`;

const create = (token: string, body: Record<string, unknown>) =>
  api(server, 'POST', '/api/chat/channels', { token, body });

/** The audit log of one channel, oldest first: action, actor and details. */
const auditOf = (channelId: number) =>
  server.deps.database.query<{
    action: string;
    actor_user_id: number | null;
    details: Record<string, unknown>;
  }>(
    sql`select action, actor_user_id, details from audit_log
        where target_type = 'channel' and target_id = ${String(channelId)} order by id`,
  );

describe('GET /api/chat/channels', () => {
  it('lists the seeded default channel in the seed shape', async () => {
    const user = await person();
    const body = await ok(api(server, 'GET', '/api/chat/channels', { token: user.token }));
    const general = body.channels.find((c: { name: string }) => c.name === 'general');
    expect(general).toMatchObject({
      name: 'general',
      description: 'General discussion',
      is_default: 1,
      is_stream_channel: false,
      visibility: 'public',
      mode: 'open',
      unread_count: 0,
    });
    expect(body.channels[0].name).toBe('general');
  });

  it('needs authentication', async () => {
    await refused(api(server, 'GET', '/api/chat/channels'), 401, 'Authentication required');
  });

  it('pages with limit and offset (default 100, at most 100) and reports the total', async () => {
    const user = await person();
    const names = [unique('page-a'), unique('page-b'), unique('page-c')];
    for (const name of names) await ok(create(user.token, { name }));
    const all = await ok(api(server, 'GET', '/api/chat/channels', { token: user.token }));
    expect(all).toMatchObject({ limit: 100, offset: 0 });
    expect(all.total).toBe(all.channels.length);
    expect(all.channels.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(names));
    const first = await ok(api(server, 'GET', '/api/chat/channels?limit=1', { token: user.token }));
    expect(first).toMatchObject({ total: all.total, limit: 1, offset: 0 });
    expect(first.channels.map((c: { name: string }) => c.name)).toEqual(['general']);
    const rest = await ok(api(server, 'GET', '/api/chat/channels?limit=2&offset=1', { token: user.token }));
    expect(rest.channels.map((c: { name: string }) => c.name)).toEqual(
      all.channels.slice(1, 3).map((c: { name: string }) => c.name),
    );
    await refused(
      api(server, 'GET', '/api/chat/channels?limit=101', { token: user.token }),
      400,
      'limit must be at most 100',
    );
    await refused(api(server, 'GET', '/api/chat/channels?offset=-1', { token: user.token }), 400, /offset/);
  });

  it('shows private channels to their members (and Admin+) only', async () => {
    const owner = await person();
    const outsider = await person();
    const admin = await person(2);
    const name = unique('secret');
    const made = await ok(create(owner.token, { name }));
    expect(made).toMatchObject({ name, visibility: 'private', mode: 'open', created_by: owner.id });
    const names = async (token: string) =>
      (await ok(api(server, 'GET', '/api/chat/channels', { token }))).channels.map(
        (c: { name: string }) => c.name,
      );
    expect(await names(owner.token)).toContain(name);
    expect(await names(outsider.token)).not.toContain(name);
    expect(await names(admin.token)).toContain(name);
    await refused(
      api(server, 'GET', `/api/chat/channels/${made.id}/members`, { token: outsider.token }),
      404,
      'Channel not found',
    );
  });
});

describe('POST /api/chat/channels', () => {
  it('lets Admin+ create public channels and refuses them to users', async () => {
    const admin = await person(2);
    const user = await person();
    const name = unique('news');
    const made = await ok(create(admin.token, { name, description: 'News', mode: 'readonly' }));
    expect(made).toMatchObject({ name, description: 'News', visibility: 'public', mode: 'readonly' });
    await refused(
      create(user.token, { name: unique(), visibility: 'public' }),
      403,
      'Only admins can create public channels',
    );
    await refused(create(admin.token, { name }), 409, 'Channel name is already taken');
  });

  it('validates the name', async () => {
    const user = await person();
    await refused(
      create(user.token, { name: 'Has Spaces' }),
      400,
      'name may contain only lowercase letters, digits and hyphens',
    );
    await refused(create(user.token, { name: 'a'.repeat(51) }), 400, 'name must be at most 50 characters');
    await refused(create(user.token, {}), 400, 'name is required');
  });

  it('makes the creator a moderator and caps channels at 10 per user', async () => {
    const user = await person();
    const first = await ok(create(user.token, { name: unique() }));
    const members = await ok(
      api(server, 'GET', `/api/chat/channels/${first.id}/members`, { token: user.token }),
    );
    expect(members.members).toEqual([
      { user_id: user.id, username: user.username, role: 'moderator', added_at: expect.any(String) },
    ]);
    for (let i = 1; i < 10; i++) await ok(create(user.token, { name: unique() }));
    await refused(create(user.token, { name: unique() }), 403, 'You can create at most 10 channels');
  });

  it('refuses timed-out and banned users', async () => {
    const user = await person();
    const db = server.deps.database.db;
    await db
      .update(users)
      .set({ state: STATE.TIMEOUT, stateExpiresAt: new Date(Date.now() + 60_000) })
      .where(eq(users.id, user.id));
    await refused(create(user.token, { name: unique() }), 403, 'Your account is temporarily restricted');
    // A ban ends the user's sessions, so it is checked where the service decides, for every caller.
    const banned = await person();
    await db.update(users).set({ state: STATE.BANNED }).where(eq(users.id, banned.id));
    const actor = { userId: banned.id, username: banned.username, level: 0 };
    await expect(createChannel({ db }, actor, { name: unique() })).rejects.toMatchObject({
      message: 'Your account has been banned',
    });
    const rows = await server.deps.database.query<{ n: number }>(
      sql`select count(*)::int as n from channels where created_by in (${user.id}, ${banned.id})`,
    );
    expect(rows[0]!.n).toBe(0);
  });
});

describe('PUT and DELETE /api/chat/channels/{id}', () => {
  it('lets moderators rename; refuses plain members; writes the audit log', async () => {
    const owner = await person();
    const member = await person();
    const made = await ok(create(owner.token, { name: unique() }));
    await ok(
      api(server, 'POST', `/api/chat/channels/${made.id}/members`, {
        token: owner.token,
        body: { user_id: member.id },
      }),
    );
    await refused(
      api(server, 'PUT', `/api/chat/channels/${made.id}`, {
        token: member.token,
        body: { description: 'x' },
      }),
      403,
      'Access denied',
    );
    const renamed = unique('renamed');
    const after = await ok(
      api(server, 'PUT', `/api/chat/channels/${made.id}`, {
        token: owner.token,
        body: { name: renamed, description: 'Topic', mode: 'readonly' },
      }),
    );
    expect(after).toMatchObject({ id: made.id, name: renamed, description: 'Topic', mode: 'readonly' });
    await refused(
      api(server, 'PUT', `/api/chat/channels/${made.id}`, {
        token: owner.token,
        body: { visibility: 'public' },
      }),
      403,
      'Only admins can make a channel public',
    );
    const rows = await server.deps.database.query<{ action: string }>(
      sql`select action from audit_log where target_type = 'channel' and target_id = ${String(made.id)}`,
    );
    expect(rows.map((r) => r.action)).toEqual(
      expect.arrayContaining(['channel.create', 'channel.member_add', 'channel.update']),
    );
  });

  it('deletes for the creator or Admin+, never the default channel', async () => {
    const owner = await person();
    const other = await person();
    const admin = await person(2);
    const made = await ok(create(owner.token, { name: unique() }));
    await refused(
      api(server, 'DELETE', `/api/chat/channels/${made.id}`, { token: other.token }),
      404,
      'Channel not found',
    );
    await ok(api(server, 'DELETE', `/api/chat/channels/${made.id}`, { token: owner.token }));
    expect((await auditOf(made.id)).at(-1)).toMatchObject({
      action: 'channel.delete',
      actor_user_id: owner.id,
    });
    await refused(
      api(server, 'DELETE', `/api/chat/channels/${made.id}`, { token: owner.token }),
      404,
      'Channel not found',
    );
    const list = await ok(api(server, 'GET', '/api/chat/channels', { token: admin.token }));
    const general = list.channels.find((c: { name: string }) => c.name === 'general');
    await refused(
      api(server, 'DELETE', `/api/chat/channels/${general.id}`, { token: admin.token }),
      400,
      'The default channel cannot be deleted',
    );
  });
});

describe('channel members', () => {
  it('adds, promotes and removes members under the seed rules', async () => {
    const owner = await person();
    const mod = await person();
    const member = await person();
    const stranger = await person();
    const made = await ok(create(owner.token, { name: unique() }));
    const path = `/api/chat/channels/${made.id}/members`;
    await ok(api(server, 'POST', path, { token: owner.token, body: { user_id: mod.id } }));
    await refused(
      api(server, 'POST', path, { token: owner.token, body: { user_id: mod.id } }),
      409,
      'User is already a member',
    );
    await refused(
      api(server, 'POST', path, { token: owner.token, body: { user_id: 999_999 } }),
      404,
      'User not found',
    );
    // Only Admin+ or the creator change roles.
    await ok(api(server, 'PUT', `${path}/${mod.id}`, { token: owner.token, body: { role: 'moderator' } }));
    await ok(api(server, 'POST', path, { token: mod.token, body: { user_id: member.id } }));
    await refused(
      api(server, 'PUT', `${path}/${member.id}`, { token: mod.token, body: { role: 'moderator' } }),
      403,
      'Access denied',
    );
    await refused(
      api(server, 'PUT', `${path}/${member.id}`, { token: owner.token, body: { role: 'boss' } }),
      400,
      /role/,
    );
    // Plain members neither add nor remove others; moderators remove members, not moderators.
    await refused(
      api(server, 'POST', path, { token: member.token, body: { user_id: stranger.id } }),
      403,
      'Access denied',
    );
    await refused(api(server, 'DELETE', `${path}/${mod.id}`, { token: member.token }), 403, 'Access denied');
    const list = await ok(api(server, 'GET', path, { token: member.token }));
    expect(list.members.map((m: { user_id: number; role: string }) => [m.user_id, m.role])).toEqual([
      [owner.id, 'moderator'],
      [mod.id, 'moderator'],
      [member.id, 'member'],
    ]);
    expect(list).toMatchObject({ total: 3, limit: 100, offset: 0 });
    const page = await ok(api(server, 'GET', `${path}?limit=1&offset=1`, { token: member.token }));
    expect(page.members.map((m: { user_id: number }) => m.user_id)).toEqual([mod.id]);
    expect(page).toMatchObject({ total: 3, limit: 1, offset: 1 });
    await refused(api(server, 'GET', `${path}?limit=0`, { token: member.token }), 400, /limit/);
    await ok(api(server, 'DELETE', `${path}/${member.id}`, { token: mod.token }));
    await refused(api(server, 'GET', path, { token: member.token }), 404, 'Channel not found');
    await ok(api(server, 'DELETE', `${path}/${mod.id}`, { token: mod.token }));
    await refused(
      api(server, 'DELETE', `${path}/${mod.id}`, { token: owner.token }),
      404,
      'Member not found',
    );
    // Member and role changes are in the audit log, with who did them.
    const entries = (await auditOf(made.id)).filter((e) => e.action.startsWith('channel.member_'));
    expect(entries.map((e) => [e.action, e.actor_user_id, e.details])).toEqual([
      ['channel.member_add', owner.id, { user_id: mod.id }],
      ['channel.member_role', owner.id, { user_id: mod.id, from: 'member', to: 'moderator' }],
      ['channel.member_add', mod.id, { user_id: member.id }],
      ['channel.member_remove', mod.id, { user_id: member.id, role: 'member' }],
      ['channel.member_remove', mod.id, { user_id: mod.id, role: 'moderator' }],
    ]);
  });
});
