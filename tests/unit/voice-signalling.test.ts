import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalBus } from '../../src/core/bus';
import type { Bus } from '../../src/core/bus/types';
import { AppError } from '../../src/core/errors';
import { parseVoiceRoom, VoiceClientType, voiceClientSchemas } from '../../src/services/voice/protocol';
import {
  createVoiceSignalling,
  type VoiceDelivery,
  type VoiceSignalling,
  type VoiceSocket,
} from '../../src/services/voice/signalling';
import { latestByUser, type RoomEntry, voiceRoomMembers, voiceRoomSet } from '../../src/services/voice/store';

// The voice state machine on one node, with the in-process Bus and a fake clock: every rule of seed
// 002 "Voice Signaling" that does not need a second node (those are in tests/integration).

const silent = { warn: () => {} };

let bus: Bus;
let voice: VoiceSignalling;
let clock = 1_000_000;
let allowed: (userId: number, room: string) => boolean;
const canJoinCalls: Array<[number, string]> = [];

const sock = (userId: number, socketId = `s${userId}`, currentChannel: string | null = 'general') =>
  ({
    socketId,
    userId,
    username: `user${userId}`,
    currentChannel: currentChannel ?? undefined,
  }) satisfies VoiceSocket;

const join = (s: VoiceSocket, room?: string) =>
  voice.handle(s, room === undefined ? { type: 'voice_join' } : { type: 'voice_join', room });

/** The AppError a call was refused with. */
async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

const ofType = (deliveries: VoiceDelivery[], type: string) => deliveries.filter((d) => d.event.type === type);

beforeEach(async () => {
  clock = 1_000_000;
  allowed = () => true;
  canJoinCalls.length = 0;
  bus = createLocalBus({ log: silent });
  voice = await createVoiceSignalling({
    bus,
    nodeId: 'node-a',
    now: () => clock,
    log: silent,
    refreshMs: 3_600_000,
    canJoin: async (userId, room) => {
      canJoinCalls.push([userId, room]);
      return allowed(userId, room);
    },
  });
});

afterEach(async () => {
  await voice.close();
  await bus.close();
});

describe('client frames', () => {
  it('validates each type with its own strict schema', () => {
    expect(voiceClientSchemas[VoiceClientType.JOIN].safeParse({ type: 'voice_join' }).success).toBe(true);
    expect(
      voiceClientSchemas[VoiceClientType.JOIN].safeParse({ type: 'voice_join', room: 'dm:7' }).success,
    ).toBe(true);
    expect(voiceClientSchemas[VoiceClientType.LEAVE].safeParse({ type: 'voice_leave', x: 1 }).success).toBe(
      false,
    );
    expect(
      voiceClientSchemas[VoiceClientType.SIGNAL].safeParse({
        type: 'voice_signal',
        target_user_id: 2,
        signal: { type: 'offer', sdp: 'v=0' },
      }).success,
    ).toBe(true);
  });

  it('accepts channel names and dm:<positive int> as rooms, nothing else', () => {
    expect(parseVoiceRoom('general')).toEqual({ kind: 'channel', name: 'general' });
    expect(parseVoiceRoom('dev-talk-2')).toEqual({ kind: 'channel', name: 'dev-talk-2' });
    expect(parseVoiceRoom('dm:12')).toEqual({ kind: 'dm', conversationId: 12 });
    for (const bad of [
      '',
      'General',
      'dm:0',
      'dm:-1',
      'dm:01',
      'dm:abc',
      'dm:99999999999',
      'a b',
      'x'.repeat(51),
    ]) {
      expect(parseVoiceRoom(bad), bad).toBeUndefined();
    }
  });

  it.each([
    [{ type: 'voice_nope' }, /type/],
    [{ type: 'voice_join', room: 'Not A Channel' }, /room must be a channel name/],
    [{ type: 'voice_join', room: 'dm:0' }, /room must be a channel name/],
    [{ type: 'voice_join', channel: 'general' }, /channel is not an allowed field/],
    [{ type: 'voice_mute', muted: 'yes' }, /muted must be a boolean/],
    [{ type: 'voice_deafen' }, /deafened is required/],
    [{ type: 'voice_speaking', speaking: 1 }, /speaking must be a boolean/],
    [{ type: 'voice_signal', target_user_id: 2, signal: 'v=0' }, /signal must be an object/],
    [{ type: 'voice_signal', target_user_id: 2, signal: [1, 2] }, /signal must be an object/],
    [{ type: 'voice_signal', target_user_id: 2, signal: null }, /signal must be an object/],
    [{ type: 'voice_signal', target_user_id: 1.5, signal: {} }, /target_user_id must be an integer/],
    [{ type: 'voice_signal', target_user_id: 2, signal: { sdp: 'x'.repeat(70_000) } }, /at most 64 KB/],
    ['voice_join', /./],
  ])('refuses bad frame #%# as a bad request', async (frame, message) => {
    const err = await refusal(voice.handle(sock(1), frame));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(message);
  });
});

describe('join, state and leave', () => {
  it('sends the joiner the room state and the others voice_user_joined', async () => {
    const first = await join(sock(1));
    expect(first).toEqual([
      {
        to: 'socket',
        nodeId: 'node-a',
        socketId: 's1',
        event: {
          type: 'voice_state',
          room: 'general',
          members: [{ user_id: 1, username: 'user1', muted: false, deafened: false }],
        },
      },
      {
        to: 'room',
        room: 'general',
        exceptUserId: 1,
        event: {
          type: 'voice_user_joined',
          room: 'general',
          user_id: 1,
          username: 'user1',
          muted: false,
          deafened: false,
        },
      },
    ]);

    const second = await join(sock(2));
    const [state] = ofType(second, 'voice_state');
    expect(state?.event).toMatchObject({ members: [{ user_id: 1 }, { user_id: 2 }] });
    const [joined] = ofType(second, 'voice_user_joined');
    expect(joined).toMatchObject({ to: 'room', room: 'general', exceptUserId: 2 });
    // Only user 1's socket receives user 2's arrival.
    expect(voice.localRecipients(joined!)).toEqual(['s1']);
    expect(voice.roomOf('s2')).toBe('general');
  });

  it('uses the given room over the current channel, and needs one of them', async () => {
    await join(sock(1), 'random');
    expect(voice.roomOf('s1')).toBe('random');
    const err = await refusal(join(sock(2, 's2', null)));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/Join a text channel first/);
  });

  it('answers a repeated join of the same room with the state only', async () => {
    await join(sock(1));
    const again = await join(sock(1));
    expect(again.map((d) => d.event.type)).toEqual(['voice_state']);
  });

  it('voice_leave tells the room and forgets the user; leaving twice is a no-op', async () => {
    await join(sock(1));
    await join(sock(2));
    const out = await voice.handle(sock(1), { type: 'voice_leave' });
    expect(out).toEqual([
      { to: 'room', room: 'general', event: { type: 'voice_user_left', room: 'general', user_id: 1 } },
    ]);
    expect(voice.localRecipients(out[0]!)).toEqual(['s2']);
    expect((await voiceRoomMembers(bus, 'general')).map((m) => m.user_id)).toEqual([2]);
    expect(await voice.handle(sock(1), { type: 'voice_leave' })).toEqual([]);
  });
});

describe('room capacity', () => {
  it('refuses the 11th user and keeps the room at 10', async () => {
    for (let u = 1; u <= 10; u++) await join(sock(u));
    const err = await refusal(join(sock(11)));
    expect(err.status).toBe(409);
    expect(err.message).toBe('Voice room is full (10 users)');
    expect(await voiceRoomMembers(bus, 'general')).toHaveLength(10);
    expect(voice.roomOf('s11')).toBeUndefined();
    // Another tab of a member is not an 11th user.
    await join(sock(3, 's3-tab2'));
    expect(await voiceRoomMembers(bus, 'general')).toHaveLength(10);
    // A place frees up when someone leaves.
    await voice.handle(sock(1), { type: 'voice_leave' });
    await join(sock(11));
    expect(voice.roomOf('s11')).toBe('general');
  });

  it('keeps a refused user in the room they were in', async () => {
    for (let u = 1; u <= 10; u++) await join(sock(u), 'busy');
    await join(sock(11), 'quiet');
    await refusal(join(sock(11), 'busy'));
    expect(voice.roomOf('s11')).toBe('quiet');
    expect((await voiceRoomMembers(bus, 'quiet')).map((m) => m.user_id)).toEqual([11]);
  });
});

describe('one voice room per user', () => {
  it('joining another room leaves the first, with voice_user_left there', async () => {
    await join(sock(1));
    await join(sock(2));
    const out = await join(sock(1), 'random');
    const [gone] = ofType(out, 'voice_user_left');
    expect(gone).toMatchObject({ to: 'room', room: 'general', event: { user_id: 1, room: 'general' } });
    expect(voice.localRecipients(gone!)).toEqual(['s2']);
    // The socket that moved is not told it left: it gets the new room's state instead.
    expect(out.filter((d) => d.to === 'socket').map((d) => d.event.type)).toEqual(['voice_state']);
    expect((await voiceRoomMembers(bus, 'general')).map((m) => m.user_id)).toEqual([2]);
    expect((await voiceRoomMembers(bus, 'random')).map((m) => m.user_id)).toEqual([1]);
  });

  it('keeps mute and deafen when moving between rooms', async () => {
    await join(sock(1));
    await voice.handle(sock(1), { type: 'voice_mute', muted: true });
    const out = await join(sock(1), 'random');
    expect(ofType(out, 'voice_state')[0]?.event).toMatchObject({ members: [{ user_id: 1, muted: true }] });
  });

  it('a second tab takes the session over and the first tab is told', async () => {
    await join(sock(1, 'tab-a'));
    await join(sock(2));
    const out = await join(sock(1, 'tab-b'));
    expect(out.map((d) => [d.to, d.event.type])).toEqual([
      ['room', 'voice_user_left'],
      ['socket', 'voice_user_left'],
      ['socket', 'voice_state'],
      ['room', 'voice_user_joined'],
    ]);
    expect(out[1]).toMatchObject({ nodeId: 'node-a', socketId: 'tab-a', event: { user_id: 1 } });
    expect(voice.roomOf('tab-a')).toBeUndefined();
    expect(voice.roomOf('tab-b')).toBe('general');
    // Peers hear "left" then "joined" (to reconnect to the new tab); user 1's new tab hears neither.
    expect(voice.localRecipients(out[0]!)).toEqual(['s2']);
    expect(voice.localRecipients(out[3]!)).toEqual(['s2']);
    // Signals for user 1 now reach the new tab.
    const [signal] = await voice.handle(sock(2), { type: 'voice_signal', target_user_id: 1, signal: {} });
    expect(signal).toMatchObject({ to: 'socket', socketId: 'tab-b' });
    // The old tab closing later does not remove the user.
    expect(await voice.disconnect('tab-a')).toEqual([]);
    expect((await voiceRoomMembers(bus, 'general')).map((m) => m.user_id)).toEqual([1, 2]);
  });
});

describe('voice_signal', () => {
  const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };

  it('goes to the target only, with the sender id', async () => {
    await join(sock(1));
    await join(sock(2));
    const out = await voice.handle(sock(1), { type: 'voice_signal', target_user_id: 2, signal: offer });
    expect(out).toEqual([
      {
        to: 'socket',
        nodeId: 'node-a',
        socketId: 's2',
        event: { type: 'voice_signal', from_user_id: 1, signal: offer },
      },
    ]);
    expect(voice.localRecipients(out[0]!)).toEqual(['s2']);
  });

  it('is refused for a user outside the room, for oneself, and outside voice', async () => {
    await join(sock(1));
    await join(sock(3), 'random');
    const other = await refusal(
      voice.handle(sock(1), { type: 'voice_signal', target_user_id: 3, signal: offer }),
    );
    expect(other.message).toBe('That user is not in your voice room');
    expect(other.status).toBe(403);
    const nobody = await refusal(
      voice.handle(sock(1), { type: 'voice_signal', target_user_id: 99, signal: {} }),
    );
    expect(nobody.message).toBe('That user is not in your voice room');
    const self = await refusal(
      voice.handle(sock(1), { type: 'voice_signal', target_user_id: 1, signal: {} }),
    );
    expect(self.status).toBe(400);
    const outside = await refusal(
      voice.handle(sock(4), { type: 'voice_signal', target_user_id: 1, signal: {} }),
    );
    expect(outside.message).toBe('You are not in a voice room');
  });
});

describe('mute, deafen, speaking', () => {
  it('broadcasts mute and deafen to the whole room and shows them to later joiners', async () => {
    await join(sock(1));
    await join(sock(2));
    const muted = await voice.handle(sock(1), { type: 'voice_mute', muted: true });
    expect(muted).toEqual([
      { to: 'room', room: 'general', event: { type: 'voice_mute', user_id: 1, muted: true } },
    ]);
    expect(voice.localRecipients(muted[0]!).sort()).toEqual(['s1', 's2']);
    const deaf = await voice.handle(sock(2), { type: 'voice_deafen', deafened: true });
    expect(deaf[0]?.event).toEqual({ type: 'voice_deafen', user_id: 2, deafened: true });

    const out = await join(sock(3));
    expect(ofType(out, 'voice_state')[0]?.event).toMatchObject({
      members: [
        { user_id: 1, muted: true, deafened: false },
        { user_id: 2, muted: false, deafened: true },
        { user_id: 3, muted: false, deafened: false },
      ],
    });
    // One entry per session stays on the bus after updates.
    expect(await bus.presenceCount(voiceRoomSet('general'))).toBe(3);
  });

  it('refuses mute and deafen outside voice', async () => {
    expect((await refusal(voice.handle(sock(1), { type: 'voice_mute', muted: true }))).message).toBe(
      'You are not in a voice room',
    );
    expect((await refusal(voice.handle(sock(1), { type: 'voice_deafen', deafened: true }))).status).toBe(400);
  });

  it('relays one speaking frame per 100 ms per user and drops the rest silently', async () => {
    await join(sock(1));
    await join(sock(2));
    const speak = (speaking: boolean) => voice.handle(sock(1), { type: 'voice_speaking', speaking });
    const first = await speak(true);
    expect(first).toEqual([
      {
        to: 'room',
        room: 'general',
        exceptUserId: 1,
        event: { type: 'voice_speaking', user_id: 1, speaking: true },
      },
    ]);
    expect(voice.localRecipients(first[0]!)).toEqual(['s2']);
    clock += 50;
    expect(await speak(false)).toEqual([]);
    clock += 49;
    expect(await speak(false)).toEqual([]);
    clock += 1;
    expect(await speak(false)).toHaveLength(1);
    // The limit is per user: user 2 is not slowed down by user 1.
    expect(await voice.handle(sock(2), { type: 'voice_speaking', speaking: true })).toHaveLength(1);
  });

  it('drops speaking frames outside voice without an error', async () => {
    expect(await voice.handle(sock(1), { type: 'voice_speaking', speaking: true })).toEqual([]);
  });
});

describe('access', () => {
  it('asks canJoin for DM rooms and refuses non-participants', async () => {
    const participants = new Map([[5, new Set([1, 2])]]);
    allowed = (userId, room) => {
      const dm = /^dm:(\d+)$/.exec(room);
      return dm ? (participants.get(Number(dm[1]))?.has(userId) ?? false) : true;
    };
    await join(sock(1), 'dm:5');
    const out = await join(sock(2), 'dm:5');
    expect(ofType(out, 'voice_state')[0]?.event).toMatchObject({
      room: 'dm:5',
      members: [{ user_id: 1 }, { user_id: 2 }],
    });
    const err = await refusal(join(sock(3), 'dm:5'));
    expect(err.status).toBe(403);
    expect(err.message).toBe('You cannot join this voice room');
    expect(canJoinCalls).toEqual([
      [1, 'dm:5'],
      [2, 'dm:5'],
      [3, 'dm:5'],
    ]);
    expect((await voiceRoomMembers(bus, 'dm:5')).map((m) => m.user_id)).toEqual([1, 2]);
  });

  it('asks canJoin for the current channel too', async () => {
    allowed = () => false;
    expect((await refusal(join(sock(1)))).message).toBe('You cannot join this voice room');
    expect(canJoinCalls).toEqual([[1, 'general']]);
    expect(voice.roomOf('s1')).toBeUndefined();
  });
});

describe('disconnect', () => {
  it('tells the room, and an empty room is forgotten', async () => {
    await join(sock(1));
    await join(sock(2));
    const out = await voice.disconnect('s1');
    expect(out).toEqual([
      { to: 'room', room: 'general', event: { type: 'voice_user_left', room: 'general', user_id: 1 } },
    ]);
    expect(voice.localRecipients(out[0]!)).toEqual(['s2']);
    await voice.disconnect('s2');
    expect(await bus.presenceCount(voiceRoomSet('general'))).toBe(0);
    expect(await bus.presenceMembers('voice:user:1')).toEqual([]);
    expect(voice.localRecipients(out[0]!)).toEqual([]);
    expect(await voice.disconnect('s2')).toEqual([]);
    expect(await voice.disconnect('never-seen')).toEqual([]);
  });

  it('cleans up a join that was still in progress when the socket dropped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    allowed = () => true;
    const slow = await createVoiceSignalling({
      bus,
      nodeId: 'node-b',
      log: silent,
      canJoin: async () => {
        await gate;
        return true;
      },
    });
    try {
      const joining = slow.handle(sock(7), { type: 'voice_join' });
      const dropped = slow.disconnect('s7');
      release();
      await joining;
      expect(await dropped).toHaveLength(1);
      expect(slow.roomOf('s7')).toBeUndefined();
      expect(await voiceRoomMembers(bus, 'general')).toEqual([]);
    } finally {
      await slow.close();
    }
  });
});

describe('expiry', () => {
  it('keeps live sessions refreshed, and a stopped node’s members expire', async () => {
    const node = await createVoiceSignalling({
      bus,
      nodeId: 'node-c',
      log: silent,
      ttlMs: 60,
      refreshMs: 15,
      canJoin: async () => true,
    });
    await node.handle(sock(8), { type: 'voice_join', room: 'expiring' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await voiceRoomMembers(bus, 'expiring')).map((m) => m.user_id)).toEqual([8]);
    // As if the node crashed: nothing refreshes its entries any more.
    await node.close();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await voiceRoomMembers(bus, 'expiring')).toEqual([]);
  });
});

describe('store', () => {
  it('keeps the newest entry of each user', () => {
    const entry = (u: number, v: number, m: boolean): RoomEntry => ({
      u,
      n: `user${u}`,
      m,
      d: false,
      v,
      id: `id${u}`,
      node: 'n',
      sock: `s${u}`,
    });
    const latest = latestByUser([
      entry(2, 5, false),
      entry(1, 3, true),
      entry(2, 6, true),
      entry(1, 2, false),
    ]);
    expect([...latest.keys()]).toEqual([1, 2]);
    expect(latest.get(1)?.m).toBe(true);
    expect(latest.get(2)?.v).toBe(6);
  });
});
