import { eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rooms } from '../../src/db/schema';
import { grantSubscription } from '../../src/services/admin/subscriptions';
import { SYSTEM_ACTOR } from '../../src/services/auth/actor';
import { ROOM_EVENTS_TOPIC } from '../../src/services/rooms/events';
import { api, makeUser, signIn } from '../helpers/identity';
import { closePortalClients, openPortal, portalUrl } from '../helpers/portal-client';
import { startTestServer, type TestServer } from '../helpers/server';

// Rooms ("chats") of API.md §5 over real HTTP, and their /ws/portal events (§9): slots, listing,
// config, roles, invites, joining, leaving, destroying, the clipboard and the statistics.
// The shared browser itself is exercised against real Chromium in room-browser.test.ts.

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      RATE_LIMIT_LOGIN: '100000',
      RATE_LIMIT_AUTH: '100000',
      RATE_LIMIT_PUBLIC: '100000',
      STATS_CACHE_SECONDS: '0',
    },
  });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

type Person = { id: number; username: string; token: string };

async function person(
  opts: { level?: number; tier?: 'trial' | 'premium' | 'lifetime' } = {},
): Promise<Person> {
  const { user, username, password } = await makeUser(server, { level: opts.level ?? 0 });
  if (opts.tier) {
    await grantSubscription({
      db: server.deps.database.db,
      actor: SYSTEM_ACTOR,
      username,
      tier: opts.tier,
      days: opts.tier === 'premium' ? 30 : undefined,
    });
  }
  return { id: user.id, username, token: await signIn(server, username, password) };
}

const call = (who: Person | null, method: string, path: string, body?: unknown) =>
  api(server, method, path, { ...(who && { token: who.token }), ...(body !== undefined && { body }) });

async function roomOf(owner: Person, name = 'Movie night', config?: Record<string, unknown>) {
  const res = await call(owner, 'POST', '/chats', { name, ...(config && { config }) });
  expect(res.status).toBe(200);
  return res.body as { id: number } & Record<string, unknown>;
}

async function joinWithInvite(room: number, owner: Person, who: Person) {
  const invite = await call(owner, 'POST', `/chats/${room}/invites`, {});
  expect(invite.status).toBe(200);
  const joined = await call(who, 'POST', `/chats/join/${invite.body.code}`);
  expect(joined.status).toBe(200);
  return joined.body;
}

describe('creating rooms within chat slots (seed 003)', () => {
  it('gives Basic users no slot, Premium one, Admins five', async () => {
    const basic = await person();
    const refused = await call(basic, 'POST', '/chats', { name: 'x' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      error: 'Your plan includes no chat slots',
      reason: 'no_chat_slots',
    });
    expect(refused.body.correlation_id).toEqual(expect.any(String));

    const premium = await person({ tier: 'premium' });
    const first = await roomOf(premium);
    expect(first).toMatchObject({
      name: 'Movie night',
      kind: 'room',
      owner_id: premium.id,
      role: 'owner',
      state: 'stopped',
      member_count: 1,
      config: {
        start_url: 'https://duckduckgo.com/',
        width: 1280,
        height: 720,
        max_members: 10,
        control: 'everyone',
      },
    });
    const second = await call(premium, 'POST', '/chats', { name: 'Second' });
    expect(second.status).toBe(403);
    expect(second.body).toMatchObject({ reason: 'chat_slots_full', slots: 1, used: 1 });

    // A destroyed room frees its slot.
    expect((await call(premium, 'DELETE', `/chats/${first.id}`)).status).toBe(200);
    await roomOf(premium, 'Again');

    const admin = await person({ level: 2 });
    for (let i = 0; i < 5; i++) await roomOf(admin, `room ${i}`);
    expect((await call(admin, 'POST', '/chats', { name: 'sixth' })).status).toBe(403);

    const owner = await person({ level: 3 });
    for (let i = 0; i < 7; i++) await roomOf(owner, `room ${i}`);
  });

  it('rejects bad input with the first invalid field named', async () => {
    const admin = await person({ level: 2 });
    const cases: Array<[unknown, string]> = [
      [{}, 'name is required'],
      [{ name: 'x'.repeat(51) }, 'name must be at most 50 characters'],
      [{ name: 'ok', config: { width: 100 } }, 'config.width must be at least 320'],
      [{ name: 'ok', config: { start_url: 'javascript:alert(1)' } }, 'config.start_url'],
      [{ name: 'ok', config: { start_url: 'file:///etc/passwd' } }, 'start_url must be an http or https URL'],
      [
        { name: 'ok', config: { control: 'nobody' } },
        'config.control must be one of owner, moderators, everyone',
      ],
      [{ name: 'ok', config: { colour: 'red' } }, 'colour is not an allowed field'],
    ];
    for (const [body, message] of cases) {
      const res = await call(admin, 'POST', '/chats', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(String(res.body.error)).toContain(message);
    }
    expect((await call(null, 'POST', '/chats', { name: 'x' })).status).toBe(401);
  });

  it('never lets concurrent creations exceed the slots', async () => {
    const premium = await person({ tier: 'trial' });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => call(premium, 'POST', '/chats', { name: `race ${i}` })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 403)).toHaveLength(5);
  });
});

describe('members, roles and invites', () => {
  it('joins by invite, lists members, sets roles (owner only), and leaves', async () => {
    const owner = await person({ level: 2 });
    const alice = await person();
    const bob = await person();
    const room = await roomOf(owner);

    expect((await call(alice, 'GET', `/chats/${room.id}`)).status).toBe(404);
    const joined = await joinWithInvite(room.id, owner, alice);
    expect(joined).toMatchObject({ id: room.id, role: 'member', member_count: 2 });
    await joinWithInvite(room.id, owner, bob);

    const list = await call(alice, 'GET', '/chats');
    expect((list.body.chats as Array<{ id: number }>).map((c) => c.id)).toContain(room.id);

    const members = await call(alice, 'GET', `/chats/${room.id}/members`);
    expect(members.status).toBe(200);
    expect(
      (members.body.members as Array<{ username: string; role: string }>).map((m) => [m.username, m.role]),
    ).toEqual([
      [owner.username, 'owner'],
      [alice.username, 'member'],
      [bob.username, 'member'],
    ]);

    expect(
      (await call(alice, 'PUT', `/chats/${room.id}/members/${bob.id}`, { role: 'moderator' })).status,
    ).toBe(403);
    const promoted = await call(owner, 'PUT', `/chats/${room.id}/members/${alice.id}`, { role: 'moderator' });
    expect(promoted.body).toEqual({ user_id: alice.id, role: 'moderator' });
    expect(
      (await call(owner, 'PUT', `/chats/${room.id}/members/${owner.id}`, { role: 'member' })).status,
    ).toBe(403);
    expect(
      (await call(owner, 'PUT', `/chats/${room.id}/members/${alice.id}`, { role: 'owner' })).status,
    ).toBe(400);

    // Moderators manage invites; members do not.
    expect((await call(alice, 'GET', `/chats/${room.id}/invites`)).status).toBe(200);
    expect((await call(bob, 'POST', `/chats/${room.id}/invites`, {})).status).toBe(403);

    expect((await call(bob, 'POST', `/chats/${room.id}/leave`)).status).toBe(200);
    expect((await call(bob, 'GET', `/chats/${room.id}`)).status).toBe(404);
    const ownerLeaves = await call(owner, 'POST', `/chats/${room.id}/leave`);
    expect(ownerLeaves.status).toBe(409);
  });

  it('enforces invite expiry, use limits, revocation and max members', async () => {
    const owner = await person({ level: 2 });
    const room = await roomOf(owner, 'Small', { max_members: 2 });
    const invite = await call(owner, 'POST', `/chats/${room.id}/invites`, {
      max_uses: 1,
      expires_in_minutes: 5,
    });
    expect(invite.body).toMatchObject({ max_uses: 1, uses: 0, code: expect.any(String) });
    expect(Date.parse(String(invite.body.expires_at)) - Date.now()).toBeGreaterThan(4 * 60_000);

    const a = await person();
    const b = await person();
    expect((await call(a, 'POST', `/chats/join/${invite.body.code}`)).status).toBe(200);
    // Joining again is idempotent and costs no use.
    expect((await call(a, 'POST', `/chats/join/${invite.body.code}`)).status).toBe(200);
    const usedUp = await call(b, 'POST', `/chats/join/${invite.body.code}`);
    expect(usedUp.status).toBe(404);

    const open = await call(owner, 'POST', `/chats/${room.id}/invites`, {});
    const full = await call(b, 'POST', `/chats/join/${open.body.code}`);
    expect(full.status).toBe(409);
    expect(full.body.error).toBe('This chat is full');

    expect((await call(owner, 'DELETE', `/chats/${room.id}/invites/${open.body.code}`)).status).toBe(200);
    expect((await call(b, 'POST', `/chats/join/${open.body.code}`)).status).toBe(404);
    expect((await call(owner, 'DELETE', `/chats/${room.id}/invites/nope`)).status).toBe(404);
    expect((await call(b, 'POST', '/chats/join/bad%20code!')).status).toBe(400);

    const listed = await call(owner, 'GET', `/chats/${room.id}/invites`);
    expect(listed.body.invites).toEqual([]);
  });
});

describe('non-members', () => {
  it('get 404 "Chat not found" on every path of a room, reads and writes alike', async () => {
    const owner = await person({ level: 2 });
    const member = await person();
    const outsider = await person();
    const room = await roomOf(owner);
    await joinWithInvite(room.id, owner, member);
    const invite = await call(owner, 'POST', `/chats/${room.id}/invites`, {});
    expect(
      (await call(owner, 'POST', `/chats/${room.id}/messages`, { content: 'members only' })).status,
    ).toBe(200);
    const paths: Array<[string, string, unknown?]> = [
      ['GET', ''],
      ['GET', '/members'],
      ['GET', '/invites'],
      ['GET', '/messages'],
      ['GET', '/keys'],
      ['GET', '/moderation'],
      ['GET', '/clipboard'],
      ['GET', '/screen'],
      ['PATCH', '/config', { width: 900 }],
      ['POST', '/start'],
      ['POST', '/stop'],
      ['POST', '/leave'],
      ['POST', '/invites', {}],
      ['DELETE', `/invites/${invite.body.code}`],
      ['PUT', `/members/${member.id}`, { role: 'moderator' }],
      ['PUT', '/clipboard', { text: 'let me in' }],
      ['POST', '/messages', { content: 'let me in' }],
      ['POST', '/messages/clear'],
      ['POST', '/keys', { public_key: Buffer.alloc(32, 7).toString('base64') }],
      ['POST', '/moderation/kick', { user_id: member.id }],
      ['POST', '/moderation/unmute', { user_id: member.id }],
      ['DELETE', ''],
    ];
    for (const [method, suffix, body] of paths) {
      const res = await call(outsider, method, `/chats/${room.id}${suffix}`, body);
      expect([res.status, res.body.error], `${method} /chats/{id}${suffix}`).toEqual([404, 'Chat not found']);
    }
    // Nothing changed: the member is still there, as a member, and the room still stands.
    const members = await call(owner, 'GET', `/chats/${room.id}/members`);
    expect((members.body.members as Array<{ user_id: number; role: string }>).map((m) => m.role)).toEqual([
      'owner',
      'member',
    ]);
    expect((await call(owner, 'GET', `/chats/${room.id}/invites`)).body.total).toBe(2);
  });
});

describe('paging the room lists', () => {
  it('pages GET /chats, members and invites with limit/offset and a total', async () => {
    const owner = await person({ level: 2 });
    const alice = await person();
    const first = await roomOf(owner, 'First');
    const second = await roomOf(owner, 'Second');
    await joinWithInvite(second.id, owner, alice);

    const all = await call(owner, 'GET', '/chats');
    expect(all.body).toMatchObject({ total: 2, limit: 50, offset: 0 });
    expect(
      (all.body.chats as Array<{ id: number; member_count: number }>).map((c) => [c.id, c.member_count]),
    ).toEqual([
      [second.id, 2],
      [first.id, 1],
    ]);
    const page = await call(owner, 'GET', '/chats?limit=1&offset=1');
    expect(page.body).toMatchObject({
      total: 2,
      limit: 1,
      offset: 1,
      chats: [{ id: first.id, member_count: 1 }],
    });
    expect((await call(owner, 'GET', '/chats?offset=5')).body).toMatchObject({ chats: [], total: 2 });
    expect((await call(alice, 'GET', '/chats')).body).toMatchObject({ total: 1, chats: [{ id: second.id }] });
    expect((await call(owner, 'GET', '/chats?limit=0')).status).toBe(400);

    const members = await call(alice, 'GET', `/chats/${second.id}/members?limit=1&offset=1`);
    expect(members.body).toMatchObject({ total: 2, limit: 1, offset: 1, members: [{ user_id: alice.id }] });

    for (let i = 0; i < 3; i++) await call(owner, 'POST', `/chats/${first.id}/invites`, {});
    const invites = await call(owner, 'GET', `/chats/${first.id}/invites?limit=2`);
    expect(invites.body).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(invites.body.invites).toHaveLength(2);
    const rest = await call(owner, 'GET', `/chats/${first.id}/invites?limit=2&offset=2`);
    const codes = (body: Record<string, unknown>) =>
      (body.invites as Array<{ code: string }>).map((i) => i.code);
    expect(codes(rest.body)).toHaveLength(1);
    expect(codes(invites.body)).not.toContain(codes(rest.body)[0]);
  });
});

describe('config and clipboard', () => {
  it('lets only the owner change the config; members read the clipboard', async () => {
    const owner = await person({ level: 2 });
    const member = await person();
    const room = await roomOf(owner);
    await joinWithInvite(room.id, owner, member);
    const ws = await openPortal(portalUrl(server, member.token));
    await ws.nextOf('ready');
    ws.send({ type: 'join_room', room_id: room.id, screen: false });
    await ws.nextOf('room_joined');

    const patched = await call(owner, 'PATCH', `/chats/${room.id}/config`, {
      start_url: 'https://example.org/',
      width: 800,
      height: 600,
      control: 'moderators',
    });
    expect(patched.status).toBe(200);
    expect(patched.body.config).toEqual({
      start_url: 'https://example.org/',
      width: 800,
      height: 600,
      max_members: 10,
      control: 'moderators',
    });
    expect(await ws.nextOf('chat_config')).toEqual({
      type: 'chat_config',
      room_id: room.id,
      config: patched.body.config,
    });
    expect((await call(member, 'PATCH', `/chats/${room.id}/config`, { width: 900 })).status).toBe(403);

    expect((await call(member, 'GET', `/chats/${room.id}/clipboard`)).body).toEqual({ text: '' });
    // `control: moderators` keeps plain members from writing the clipboard.
    expect((await call(member, 'PUT', `/chats/${room.id}/clipboard`, { text: 'hi' })).status).toBe(403);
    expect((await call(owner, 'PUT', `/chats/${room.id}/clipboard`, { text: 'shared text' })).body).toEqual({
      text: 'shared text',
    });
    expect((await call(member, 'GET', `/chats/${room.id}/clipboard`)).body).toEqual({ text: 'shared text' });
    const [row] = await server.deps.database.db.select().from(rooms).where(eq(rooms.id, room.id));
    expect(row!.clipboard).not.toContain('shared text');

    const outsider = await person();
    expect((await call(outsider, 'GET', `/chats/${room.id}/clipboard`)).status).toBe(404);
    expect((await call(outsider, 'GET', `/chats/${room.id}/screen`)).status).toBe(404);
    expect((await call(member, 'GET', `/chats/${room.id}/screen`)).status).toBe(409);
    expect(
      (await call(owner, 'PUT', `/chats/${room.id}/clipboard`, { text: 'x'.repeat(100_001) })).status,
    ).toBe(400);
  });
});

describe('/ws/portal room events', () => {
  it('delivers joins, leaves, role and clipboard changes to joined sockets, and evicts on destroy', async () => {
    const owner = await person({ level: 2 });
    const alice = await person();
    const room = await roomOf(owner);
    const ws = await openPortal(portalUrl(server, owner.token));
    await ws.nextOf('ready');
    ws.send({ type: 'join_room', room_id: room.id, screen: false });
    const joined = await ws.nextOf('room_joined');
    expect(joined).toMatchObject({ room_id: room.id, holder_user_id: null, clipboard: '', screen: false });
    expect(joined.chat).toMatchObject({ id: room.id, role: 'owner' });

    await joinWithInvite(room.id, owner, alice);
    expect(await ws.nextOf('member_joined')).toMatchObject({
      room_id: room.id,
      member: { user_id: alice.id, username: alice.username, role: 'member' },
    });

    const aliceWs = await openPortal(portalUrl(server, alice.token));
    await aliceWs.nextOf('ready');
    aliceWs.send({ type: 'join_room', room_id: room.id });
    await aliceWs.nextOf('room_joined');

    await call(owner, 'PUT', `/chats/${room.id}/clipboard`, { text: 'copied' });
    expect(await aliceWs.nextOf('clipboard')).toEqual({
      type: 'clipboard',
      room_id: room.id,
      text: 'copied',
    });

    await call(owner, 'PUT', `/chats/${room.id}/members/${alice.id}`, { role: 'moderator' });
    expect(await aliceWs.nextOf('member_role')).toMatchObject({ user_id: alice.id, role: 'moderator' });

    // Control needs a running browser.
    aliceWs.send({ type: 'control_request' });
    expect(await aliceWs.nextOf('error')).toMatchObject({
      message: 'The browser is not running',
      status: 409,
    });
    aliceWs.send({ type: 'input', kind: 'mouse', action: 'click', x: 1, y: 1 });
    expect(await aliceWs.nextOf('error')).toMatchObject({ status: 409 });

    await call(owner, 'DELETE', `/chats/${room.id}`);
    expect(await aliceWs.nextOf('chat_state')).toMatchObject({ state: 'destroyed' });
    expect(await aliceWs.nextOf('room_left')).toEqual({
      type: 'room_left',
      room_id: room.id,
      reason: 'destroyed',
    });
  });

  it('refuses joins by non-members and malformed room frames', async () => {
    const owner = await person({ level: 2 });
    const stranger = await person();
    const room = await roomOf(owner);
    const ws = await openPortal(portalUrl(server, stranger.token));
    await ws.nextOf('ready');
    ws.send({ type: 'join_room', room_id: room.id });
    expect(await ws.nextOf('error')).toMatchObject({
      message: 'Chat not found',
      status: 404,
      request: 'join_room',
    });
    ws.send({ type: 'join_room', room_id: 'abc' });
    expect((await ws.nextOf('error')).message).toBe('room_id must be a number');
    ws.send({ type: 'control_take' });
    expect((await ws.nextOf('error')).message).toBe('Join a room first (join_room)');
    ws.send({ type: 'control_give', room_id: room.id });
    expect((await ws.nextOf('error')).message).toBe('user_id is required');
    // The socket is still usable after refusals.
    ws.send({ type: 'ping' });
    expect(await ws.nextOf('pong')).toEqual({ type: 'pong' });
  });

  it('does not lose an eviction that lands while join_room reads the membership', async () => {
    const owner = await person({ level: 2 });
    const bob = await person();
    const room = await roomOf(owner);
    await joinWithInvite(room.id, owner, bob);
    const ws = await openPortal(portalUrl(server, bob.token));
    await ws.nextOf('ready');
    // Hold room_members so the join's membership read waits; the eviction (as another node
    // publishes it after removing bob) arrives meanwhile.
    let release!: () => void;
    const held = new Promise<void>((ok) => {
      release = ok;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((ok) => {
      locked = ok;
    });
    const holding = server.deps.database.db.transaction(async (tx) => {
      await tx.execute(sql`lock table room_members in access exclusive mode`);
      locked();
      await held;
    });
    await isLocked;
    try {
      ws.send({ type: 'join_room', room_id: room.id, screen: false });
      // The join waits on the lock, and this socket's JSON frames wait behind it; a protocol-level
      // ping is answered by the transport. The server runs in this process, so by the time its pong
      // is read here the join frame was received and its handler has issued the membership read.
      await new Promise<void>((resolve) => {
        ws.ws.once('pong', () => resolve());
        ws.ws.ping();
      });
      await server.deps.bus.publish(ROOM_EVENTS_TOPIC, {
        kind: 'evict',
        room_id: room.id,
        user_id: bob.id,
        reason: 'kicked',
      });
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      // A failure above must not leave the table locked for the rest of the file.
      release();
      await holding;
    }
    expect(await ws.nextOf('error')).toMatchObject({
      request: 'join_room',
      status: 404,
      message: 'Chat not found',
    });
    await call(owner, 'PUT', `/chats/${room.id}/clipboard`, { text: 'after the eviction' });
    await expect(ws.nextOf('clipboard', 500)).rejects.toThrow(/no clipboard message/);
  });

  it('still evicts local sockets when the Bus refuses the eviction', async () => {
    const owner = await person({ level: 2 });
    const bob = await person();
    const room = await roomOf(owner);
    await joinWithInvite(room.id, owner, bob);
    const ws = await openPortal(portalUrl(server, bob.token));
    await ws.nextOf('ready');
    ws.send({ type: 'join_room', room_id: room.id, screen: false });
    await ws.nextOf('room_joined');
    // A Bus outage for evictions only (fault injection on the real Bus).
    const bus = server.deps.bus;
    const publish = bus.publish.bind(bus);
    bus.publish = (topic, message) =>
      (message as { kind?: string }).kind === 'evict'
        ? Promise.reject(new Error('bus down'))
        : publish(topic, message);
    try {
      await call(bob, 'POST', `/chats/${room.id}/leave`);
      expect(await ws.nextOf('room_left')).toMatchObject({ room_id: room.id, reason: 'left' });
    } finally {
      bus.publish = publish;
    }
  });

  it('takes a member leaving the room out of its topic at once', async () => {
    const owner = await person({ level: 2 });
    const bob = await person();
    const room = await roomOf(owner);
    await joinWithInvite(room.id, owner, bob);
    const ws = await openPortal(portalUrl(server, bob.token));
    await ws.nextOf('ready');
    ws.send({ type: 'join_room', room_id: room.id, screen: false });
    await ws.nextOf('room_joined');
    await call(bob, 'POST', `/chats/${room.id}/leave`);
    expect(await ws.nextOf('room_left')).toMatchObject({ room_id: room.id, reason: 'left' });
    await call(owner, 'PUT', `/chats/${room.id}/clipboard`, { text: 'after leaving' });
    await expect(ws.nextOf('clipboard', 500)).rejects.toThrow(/no clipboard message/);
  });
});

describe('GET /statistics/chats', () => {
  it('counts rooms and running browsers, publicly', async () => {
    const res = await call(null, 'GET', '/statistics/chats');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      total_chats: expect.any(Number),
      direct_chats: expect.any(Number),
      active_browsers: 0,
      node: { active_browsers: 0, capacity: 4 },
    });
    expect(res.body.total_chats).toBeGreaterThan(0);
  });
});
