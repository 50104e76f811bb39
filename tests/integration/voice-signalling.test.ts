import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus, createLocalBus } from '../../src/core/bus';
import type { Bus } from '../../src/core/bus/types';
import { AppError } from '../../src/core/errors';
import type { VoiceServerEvent } from '../../src/services/voice/protocol';
import { createVoiceRouter } from '../../src/services/voice/router';
import { createVoiceSignalling, type VoiceSocket } from '../../src/services/voice/signalling';
import { voiceRoomMembers } from '../../src/services/voice/store';

// Voice signalling on two nodes sharing one Bus: membership, mute/deafen state and the one-room
// rule are cluster-wide, and deliveries reach sockets on the other node through the router.
// Runs on the in-process Bus (two signalling instances in one process) and, when Redis answers,
// on two Redis buses with one key prefix, as two cluster nodes would.

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const silent = { warn: () => {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 3_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function redisSkipReason(url: string): Promise<string | undefined> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return undefined;
  } catch (err) {
    return `Redis unreachable at ${url} (${(err as Error).message})`;
  } finally {
    probe.disconnect();
  }
}

const redisSkip = await redisSkipReason(REDIS_URL);
if (redisSkip) console.warn(`[voice-signalling] skipping the Redis suite: ${redisSkip}`);

let seq = 0;
/** Unique per test, so suites sharing a Bus (or a Redis prefix) never see each other's rooms. */
const uniqueRoom = () => `v${++seq}-${randomUUID().slice(0, 8)}`;
const uniqueUser = () => 1_000 + ++seq * 100;

/** DM 5 holds users with an even id; everything else is open. */
const canJoin = async (userId: number, room: string) => (room.startsWith('dm:') ? userId % 2 === 0 : true);

async function startNode(bus: Bus, name: string) {
  const voice = await createVoiceSignalling({ bus, canJoin, nodeId: `${name}-${randomUUID()}`, log: silent });
  const inbox = new Map<string, VoiceServerEvent[]>();
  const router = await createVoiceRouter({
    bus,
    voice,
    send: (socketId, event) => {
      const list = inbox.get(socketId) ?? [];
      list.push(event);
      inbox.set(socketId, list);
    },
  });
  return {
    voice,
    inbox,
    received: (socketId: string, type: string) => (inbox.get(socketId) ?? []).filter((e) => e.type === type),
    /** What the hub does with a frame: handle it, then route the deliveries. */
    async act(socket: VoiceSocket, frame: unknown) {
      const deliveries = await voice.handle(socket, frame);
      await router.route(deliveries);
      return deliveries;
    },
    async drop(socketId: string) {
      await router.route(await voice.disconnect(socketId));
    },
    async close() {
      await router.close();
      await voice.close();
    },
  };
}

type Node = Awaited<ReturnType<typeof startNode>>;

const sock = (userId: number, room: string, tab = 'a'): VoiceSocket => ({
  socketId: `sock-${userId}-${tab}`,
  userId,
  username: `user${userId}`,
  currentChannel: room,
});

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

function clusterSuite(
  name: string,
  makeBuses: () => Promise<[Bus, Bus, () => Promise<void>]>,
  skip?: string,
) {
  describe.skipIf(skip !== undefined)(`voice signalling on two nodes: ${name}`, () => {
    let a: Node;
    let b: Node;
    let busA: Bus;
    let closeBuses: () => Promise<void> = async () => {};

    beforeAll(async () => {
      const [first, second, close] = await makeBuses();
      busA = first;
      closeBuses = close;
      a = await startNode(first, 'a');
      b = await startNode(second, 'b');
    });

    afterAll(async () => {
      await a?.close();
      await b?.close();
      await closeBuses();
    });

    const join = (node: Node, s: VoiceSocket, room?: string) =>
      node.act(s, room ? { type: 'voice_join', room } : { type: 'voice_join' });
    const memberIds = async (room: string) => (await voiceRoomMembers(busA, room)).map((m) => m.user_id);

    it('members on different nodes see each other, signal and hear state changes', async () => {
      const room = uniqueRoom();
      const u1 = sock(uniqueUser(), room);
      const u2 = sock(uniqueUser(), room);
      await join(a, u1);
      await join(b, u2);

      const [state] = b.received(u2.socketId, 'voice_state');
      expect(state).toMatchObject({ room, members: [{ user_id: u1.userId }, { user_id: u2.userId }] });
      await waitFor(
        () => a.received(u1.socketId, 'voice_user_joined').length === 1,
        'voice_user_joined on A',
      );
      expect(a.received(u1.socketId, 'voice_user_joined')[0]).toMatchObject({ user_id: u2.userId });

      const offer = { type: 'offer', sdp: 'v=0' };
      await b.act(u2, { type: 'voice_signal', target_user_id: u1.userId, signal: offer });
      await waitFor(() => a.received(u1.socketId, 'voice_signal').length === 1, 'voice_signal on A');
      expect(a.received(u1.socketId, 'voice_signal')[0]).toEqual({
        type: 'voice_signal',
        from_user_id: u2.userId,
        signal: offer,
      });

      await a.act(u1, { type: 'voice_mute', muted: true });
      await b.act(u2, { type: 'voice_deafen', deafened: true });
      await waitFor(() => b.received(u2.socketId, 'voice_mute').length === 1, 'voice_mute on B');
      await waitFor(() => a.received(u1.socketId, 'voice_deafen').length === 1, 'voice_deafen on A');
      expect(a.received(u1.socketId, 'voice_mute')).toEqual([
        { type: 'voice_mute', user_id: u1.userId, muted: true },
      ]);

      await b.act(u2, { type: 'voice_speaking', speaking: true });
      await waitFor(() => a.received(u1.socketId, 'voice_speaking').length === 1, 'voice_speaking on A');
      expect(b.received(u2.socketId, 'voice_speaking')).toEqual([]);

      // A third member on A gets the state both nodes wrote.
      const u3 = sock(uniqueUser(), room);
      const out = await join(a, u3);
      expect(out.find((d) => d.event.type === 'voice_state')?.event).toMatchObject({
        members: [
          { user_id: u1.userId, muted: true, deafened: false },
          { user_id: u2.userId, muted: false, deafened: true },
          { user_id: u3.userId, muted: false, deafened: false },
        ],
      });

      // Signals stay inside the room, across nodes too.
      const elsewhere = sock(uniqueUser(), uniqueRoom());
      await join(b, elsewhere);
      const err = await refusal(
        a.act(u1, { type: 'voice_signal', target_user_id: elsewhere.userId, signal: {} }),
      );
      expect(err.message).toBe('That user is not in your voice room');
    });

    it('counts the room across nodes: the 11th user is refused on either node', async () => {
      const room = uniqueRoom();
      for (let i = 0; i < 10; i++) await join(i % 2 ? b : a, sock(uniqueUser(), room));
      for (const node of [a, b]) {
        const err = await refusal(join(node, sock(uniqueUser(), room)));
        expect(err.message).toBe('Voice room is full (10 users)');
      }
      expect(await memberIds(room)).toHaveLength(10);
    });

    it('never overfills when joiners on both nodes race for the last places', async () => {
      const room = uniqueRoom();
      for (let i = 0; i < 8; i++) await join(a, sock(uniqueUser(), room));
      const racers = Array.from({ length: 6 }, () => sock(uniqueUser(), room));
      const results = await Promise.allSettled(racers.map((s, i) => join(i % 2 ? b : a, s)));
      const accepted = results.filter((r) => r.status === 'fulfilled').length;
      expect(accepted).toBeLessThanOrEqual(2);
      expect(await memberIds(room)).toHaveLength(8 + accepted);
      for (const r of results) {
        if (r.status === 'rejected')
          expect((r.reason as Error).message).toBe('Voice room is full (10 users)');
      }
    });

    it("a tab on the other node takes the user's session over", async () => {
      const room = uniqueRoom();
      const id = uniqueUser();
      const tabA = sock(id, room, 'a');
      const tabB = sock(id, room, 'b');
      const peer = sock(uniqueUser(), room);
      await join(a, peer);
      await join(a, tabA);
      await join(b, tabB);

      // The old tab is told, and node A forgets it once the eviction arrives.
      await waitFor(() => a.received(tabA.socketId, 'voice_user_left').length === 1, 'eviction notice on A');
      await waitFor(() => a.voice.roomOf(tabA.socketId) === undefined, 'node A to forget the old tab');
      expect(b.voice.roomOf(tabB.socketId)).toBe(room);
      expect(await memberIds(room)).toEqual([peer.userId, id].sort((x, y) => x - y));
      // The peer sees the user leave and come back (to reconnect to the new tab).
      await waitFor(
        () => a.received(peer.socketId, 'voice_user_joined').length === 2,
        'rejoin seen by the peer',
      );
      expect(a.received(peer.socketId, 'voice_user_left')).toEqual([
        { type: 'voice_user_left', room, user_id: id },
      ]);

      // Signals now reach the new tab; the old tab closing changes nothing.
      await a.act(peer, { type: 'voice_signal', target_user_id: id, signal: { candidate: 'c' } });
      await waitFor(() => b.received(tabB.socketId, 'voice_signal').length === 1, 'signal to the new tab');
      await a.drop(tabA.socketId);
      expect(await memberIds(room)).toContain(id);
    });

    it('joining a room on one node leaves the room held on the other', async () => {
      const first = uniqueRoom();
      const second = uniqueRoom();
      const id = uniqueUser();
      const watcher = sock(uniqueUser(), first);
      await join(b, watcher);
      await join(a, sock(id, first, 'a'));
      await join(b, sock(id, second, 'b'));
      await waitFor(
        () => b.received(watcher.socketId, 'voice_user_left').length === 1,
        'left seen in the old room',
      );
      expect(await memberIds(first)).toEqual([watcher.userId]);
      expect(await memberIds(second)).toEqual([id]);
    });

    it('checks DM access through canJoin on every node', async () => {
      const room = `dm:${uniqueUser()}`;
      const even = sock(uniqueUser(), room);
      await join(a, even);
      const odd = { ...sock(uniqueUser() + 1, room), currentChannel: undefined };
      const err = await refusal(join(b, odd, room));
      expect(err.message).toBe('You cannot join this voice room');
      expect(await memberIds(room)).toEqual([even.userId]);
      await a.drop(even.socketId);
    });

    it('a dropped socket leaves its room everywhere, and the empty room is gone', async () => {
      const room = uniqueRoom();
      const u1 = sock(uniqueUser(), room);
      const u2 = sock(uniqueUser(), room);
      await join(a, u1);
      await join(b, u2);
      await a.drop(u1.socketId);
      await waitFor(() => b.received(u2.socketId, 'voice_user_left').length === 1, 'voice_user_left on B');
      expect(b.received(u2.socketId, 'voice_user_left')[0]).toEqual({
        type: 'voice_user_left',
        room,
        user_id: u1.userId,
      });
      await b.drop(u2.socketId);
      expect(await memberIds(room)).toEqual([]);
      expect(await busA.presenceCount(`voice:room:${room}`)).toBe(0);
    });
  });
}

clusterSuite('in-process bus', async () => {
  const bus = createLocalBus({ log: silent });
  return [bus, bus, () => bus.close()];
});

clusterSuite(
  'Redis bus',
  async () => {
    const keyPrefix = `portal-test-voice-${randomUUID().slice(0, 8)}:`;
    const first = await createBus({ redisUrl: REDIS_URL, keyPrefix, log: silent });
    const second = await createBus({ redisUrl: REDIS_URL, keyPrefix, log: silent });
    return [first, second, async () => Promise.all([first.close(), second.close()]).then(() => {})];
  },
  redisSkip,
);
