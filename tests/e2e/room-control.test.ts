import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rooms } from '../../src/db/schema';
import { chromiumSkipReason } from '../helpers/chromium';
import { api } from '../helpers/identity';
import { closePortalClients, type Message, type PortalClient } from '../helpers/portal-client';
import { ok, type Person, roomKit } from '../helpers/rooms';
import { adminCaller, NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// Control handover of a room's browser (API.md §9) against real Chromium: release, give and take
// within the hierarchy, a racing give and take resolving to one winner, and a holder losing
// control the moment they stop qualifying (demoted, the policy tightened, kicked, banned, or
// timed out site-wide, after which their input is refused).

const skipReason = chromiumSkipReason();
if (skipReason) console.warn(`Skipping the room control tests: ${skipReason}`);

const PAGE = '<!doctype html><body><button style="width:200px;height:100px">Press</button></body>';

describe.skipIf(skipReason !== undefined)('control of a room browser', () => {
  let server: TestServer;
  let page: http.Server;
  let pageUrl = '';
  const { person, room: makeRoom, join, listen } = roomKit(() => server);

  beforeAll(async () => {
    page = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
    await new Promise<void>((done) => page.listen(0, '127.0.0.1', done));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    server = await startTestServer({
      env: {
        ...NO_REQUEST_LIMITS,
        RATE_LIMIT_ADMIN: '100000',
        BROWSER_ALLOW_PRIVATE: 'true',
        MAX_BROWSERS: '2',
        WS_MESSAGES_PER_SECOND: '1000',
      },
    });
  });
  afterAll(async () => {
    await server?.close();
    await new Promise<void>((done) => page?.close(() => done()));
  });
  afterEach(closePortalClients);

  const call = (who: Person, method: string, path: string, body?: unknown) =>
    api(server, method, path, { token: who.token, ...(body !== undefined && { body }) });

  const admin = () => adminCaller(server);

  const holderInDb = async (roomId: number) => {
    const [row] = await server.deps.database.db
      .select({ holder: rooms.controlUserId })
      .from(rooms)
      .where(eq(rooms.id, roomId));
    return row?.holder ?? null;
  };

  /** A running room: its owner (an Admin), one room moderator and `members` plain members, all listening. */
  async function runningRoom(members = 2) {
    const r = await makeRoom(0, { name: 'control', config: { start_url: pageUrl } });
    const moderator = await join(r.code);
    await ok(call(r.owner, 'PUT', `/chats/${r.id}/members/${moderator.id}`, { role: 'moderator' }));
    const plain: Person[] = [];
    for (let i = 0; i < members; i++) plain.push(await join(r.code));
    await ok(call(r.owner, 'POST', `/chats/${r.id}/start`));
    started.push(r.id);
    const socket = async (who: Person) => listen(who.token, r.id);
    return {
      ...r,
      moderator,
      members: plain,
      owner: { ...r.owner, ws: await socket(r.owner) },
      mod: await socket(moderator),
      sockets: await Promise.all(plain.map(socket)),
      async stop() {
        await ok(call(r.owner, 'POST', `/chats/${r.id}/stop`));
      },
    };
  }

  /** The next `type` frame that matches (earlier ones of that type are stale and skipped). */
  async function nextMatching(ws: PortalClient, type: string, match: (m: Message) => boolean) {
    for (;;) {
      const message = await ws.nextOf(type);
      if (match(message)) return message;
    }
  }
  /** Waits until the socket hears that `holder` holds control (null: nobody). */
  const heldBy = (ws: PortalClient, holder: number | null) =>
    nextMatching(ws, 'control_state', (m) => m.holder_user_id === holder);

  const started: number[] = [];
  afterEach(async () => {
    // A failed test must not leave its browser holding the node's capacity.
    for (const id of started.splice(0)) await server.deps.browsers.halt((await roomRow(id))!, 'stopped');
  });
  const roomRow = async (id: number) =>
    (await server.deps.database.db.select().from(rooms).where(eq(rooms.id, id)))[0];

  it('lets the holder release control, and nobody else release it for them', async () => {
    const r = await runningRoom(2);
    const [a, b] = r.sockets as [PortalClient, PortalClient];
    a.send({ type: 'control_request' });
    await heldBy(r.owner.ws, r.members[0]!.id);
    b.send({ type: 'control_release' });
    b.send({ type: 'ping' });
    await b.nextOf('pong');
    await expect(r.owner.ws.nextOf('control_state', 500)).rejects.toThrow(/no control_state/);
    expect(await holderInDb(r.id)).toBe(r.members[0]!.id);
    a.send({ type: 'control_release' });
    expect(await r.owner.ws.nextOf('control_state')).toEqual({
      type: 'control_state',
      room_id: r.id,
      holder_user_id: null,
    });
    expect(await holderInDb(r.id)).toBeNull();
    await r.stop();
  });

  it('gives control within the hierarchy: never away from someone above the giver', async () => {
    const r = await runningRoom(2);
    const [m1, m2] = r.members as [Person, Person];
    const [s1, s2] = r.sockets as [PortalClient, PortalClient];
    r.owner.ws.send({ type: 'control_take' });
    await heldBy(r.mod, r.owner.id);
    // A moderator cannot hand the owner's control to someone else…
    r.mod.send({ type: 'control_give', user_id: m1.id });
    expect(await r.mod.nextOf('error')).toMatchObject({
      status: 403,
      request: 'control_give',
      message: 'You cannot give control from someone above you',
    });
    expect(await holderInDb(r.id)).toBe(r.owner.id);
    // …but moves it between members, and a member who does not hold it gives nothing.
    r.owner.ws.send({ type: 'control_give', user_id: m1.id });
    await heldBy(s1, m1.id);
    r.mod.send({ type: 'control_give', user_id: m2.id });
    await heldBy(s2, m2.id);
    s1.send({ type: 'control_give', user_id: m1.id });
    expect(await s1.nextOf('error')).toMatchObject({
      status: 403,
      message: 'Only the member in control or a moderator can give control',
    });
    await r.stop();
  });

  it('resolves a racing give and take to one winner', async () => {
    const r = await runningRoom(2);
    const [m1, m2] = r.members as [Person, Person];
    // Every frame each socket receives, so each side's outcome can be read off afterwards.
    const seen = new Map<PortalClient, Message[]>();
    for (const ws of [r.owner.ws, r.mod]) {
      const list: Message[] = [];
      seen.set(ws, list);
      ws.ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) list.push(JSON.parse(data.toString()) as Message);
      });
    }
    /** true: the action took effect (its control_state came); false: it was refused. */
    const outcome = async (ws: PortalClient, request: string, holder: number, from: number) => {
      for (;;) {
        const frames = seen.get(ws)!.slice(from);
        if (frames.some((f) => f.type === 'error' && f.request === request)) return false;
        if (frames.some((f) => f.type === 'control_state' && f.holder_user_id === holder)) return true;
        await new Promise((done) => setTimeout(done, 10));
      }
    };
    for (let round = 0; round < 8; round++) {
      r.owner.ws.send({ type: 'control_give', user_id: m1.id });
      await expect.poll(() => holderInDb(r.id)).toBe(m1.id);
      await new Promise((done) => setTimeout(done, 50));
      const marks = [seen.get(r.owner.ws)!.length, seen.get(r.mod)!.length] as const;
      r.owner.ws.send({ type: 'control_take' });
      r.mod.send({ type: 'control_give', user_id: m2.id });
      const [taken, given] = await Promise.all([
        outcome(r.owner.ws, 'control_take', r.owner.id, marks[0]),
        outcome(r.mod, 'control_give', m2.id, marks[1]),
      ]);
      const final = await holderInDb(r.id);
      // Both may succeed only in the order give, then take; control never goes from the owner
      // to m2 by the moderator's hand.
      if (taken && given) expect(final).toBe(r.owner.id);
      else if (taken) expect(final).toBe(r.owner.id);
      else expect(final).toBe(m2.id);
      expect(taken || given).toBe(true);
    }
    await r.stop();
  });

  it('takes control from a demoted holder, and from one the tightened policy no longer admits', async () => {
    const r = await runningRoom(1);
    const [member] = r.members as [Person];
    await ok(call(r.owner, 'PATCH', `/chats/${r.id}/config`, { control: 'moderators' }));
    r.mod.send({ type: 'control_request' });
    await heldBy(r.owner.ws, r.moderator.id);
    await ok(call(r.owner, 'PUT', `/chats/${r.id}/members/${r.moderator.id}`, { role: 'member' }));
    expect(await r.owner.ws.nextOf('member_role')).toMatchObject({ user_id: r.moderator.id, role: 'member' });
    await heldBy(r.owner.ws, null);
    r.mod.send({ type: 'control_request' });
    expect(await r.mod.nextOf('error')).toMatchObject({ message: 'Only moderators may control the browser' });

    await ok(call(r.owner, 'PATCH', `/chats/${r.id}/config`, { control: 'everyone' }));
    r.sockets[0]!.send({ type: 'control_request' });
    await heldBy(r.owner.ws, member.id);
    // Loosening or keeping the policy keeps the holder; tightening it past them does not.
    await ok(call(r.owner, 'PATCH', `/chats/${r.id}/config`, { max_members: 20 }));
    expect(await holderInDb(r.id)).toBe(member.id);
    await ok(call(r.owner, 'PATCH', `/chats/${r.id}/config`, { control: 'owner' }));
    await nextMatching(
      r.owner.ws,
      'chat_config',
      (m) => (m.config as { control: string }).control === 'owner',
    );
    await heldBy(r.owner.ws, null);
    await r.stop();
  });

  it('refuses input after a site-wide timeout, and the holder loses control at once', async () => {
    const r = await runningRoom(1);
    const [member] = r.members as [Person];
    const [ws] = r.sockets as [PortalClient];
    ws.send({ type: 'control_request' });
    await heldBy(r.owner.ws, member.id);
    // Input is accepted (and the state read is cached) while the account is active.
    ws.send({ type: 'input', kind: 'mouse', action: 'move', x: 10, y: 10 });
    ws.send({ type: 'ping' });
    await ws.nextOf('pong');
    await admin().users.timeout({ username: member.username, minutes: 5, reason: 'site rules' });
    await heldBy(r.owner.ws, null);
    ws.send({ type: 'input', kind: 'mouse', action: 'click', x: 10, y: 10 });
    expect(await ws.nextOf('error')).toMatchObject({
      status: 403,
      request: 'input',
      message: 'Your account is temporarily restricted',
    });
    ws.send({ type: 'control_request' });
    expect(await ws.nextOf('error')).toMatchObject({
      status: 403,
      message: 'Your account is temporarily restricted',
    });
    expect(await holderInDb(r.id)).toBeNull();
    await r.stop();
  });

  it('takes control from a holder who is kicked or banned', async () => {
    const r = await runningRoom(2);
    const [m1, m2] = r.members as [Person, Person];
    const [s1, s2] = r.sockets as [PortalClient, PortalClient];
    s1.send({ type: 'control_request' });
    await heldBy(r.owner.ws, m1.id);
    await ok(call(r.moderator, 'POST', `/chats/${r.id}/moderation/ban`, { user_id: m1.id }));
    await heldBy(r.owner.ws, null);
    expect(await s1.nextOf('room_left')).toMatchObject({ reason: 'banned' });

    s2.send({ type: 'control_request' });
    await heldBy(r.owner.ws, m2.id);
    await ok(call(r.owner, 'POST', `/chats/${r.id}/moderation/kick`, { user_id: m2.id }));
    await heldBy(r.owner.ws, null);
    expect(await s2.nextOf('room_left')).toMatchObject({ reason: 'kicked' });
    expect(await holderInDb(r.id)).toBeNull();
    await r.stop();
  });

  it('lets a site Owner take control from the room owner', async () => {
    const r = await runningRoom(0);
    const siteOwner = await person(3);
    await ok(call(siteOwner, 'POST', `/chats/join/${r.code}`));
    const ws = await listen(siteOwner.token, r.id);
    r.owner.ws.send({ type: 'control_take' });
    await heldBy(ws, r.owner.id);
    ws.send({ type: 'control_take' });
    await heldBy(r.owner.ws, siteOwner.id);
    r.owner.ws.send({ type: 'control_take' });
    expect(await r.owner.ws.nextOf('error')).toMatchObject({
      message: 'You cannot take control from someone above you',
    });
    await r.stop();
  });
});
