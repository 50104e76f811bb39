import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBus, createLocalBus, createRedisBus } from '../../src/core/bus';
import type { Bus } from '../../src/core/bus/types';

// One contract, two implementations (DESIGN.md rule 8): whatever passes here on the in-process bus
// must pass on Redis too, so code tested on one node behaves the same in cluster mode.

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TEST_PREFIX = `portal-test-${randomUUID().slice(0, 8)}:`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uid = (label: string) => `${label}-${randomUUID()}`;

async function waitFor(check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Sleeps into a fresh window when fewer than `budgetMs` are left in the current one. */
async function freshWindow(windowMs: number, budgetMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < budgetMs) await sleep(left + 10);
}

/** A handler that records what it gets, and its unsubscribe function. */
async function collect(bus: Bus, topic: string) {
  const received: unknown[] = [];
  const unsubscribe = await bus.subscribe(topic, (message) => {
    received.push(message);
  });
  return { received, unsubscribe };
}

async function probeRedis(url: string): Promise<string | undefined> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // connect() only says "Connection is closed."; the 'error' event carries the cause (ECONNREFUSED...).
  let cause: string | undefined;
  probe.on('error', (err: Error) => {
    cause ??= err.message;
  });
  try {
    await probe.connect();
    await probe.ping();
    return undefined;
  } catch (err) {
    const why = cause ?? (err as Error).message;
    return `Redis unreachable at ${url} (${why}); set TEST_REDIS_URL to run the Redis bus tests`;
  } finally {
    probe.disconnect();
  }
}

const redisSkipReason = await probeRedis(REDIS_URL);
if (redisSkipReason) console.warn(`[bus.contract] skipping Redis suites: ${redisSkipReason}`);

function busContract(name: string, makeBus: () => Promise<Bus>, skipReason?: string) {
  describe.skipIf(skipReason !== undefined)(`Bus contract: ${name}`, () => {
    let bus: Bus;
    beforeAll(async () => {
      bus = await makeBus();
    });
    afterAll(async () => {
      await bus?.close();
    });

    describe('publish/subscribe', () => {
      it('delivers only to subscribers of the topic', async () => {
        const [t1, t2] = [uid('t1'), uid('t2')];
        const a = await collect(bus, t1);
        const b = await collect(bus, t2);
        await bus.publish(t1, { to: 't1' });
        await bus.publish(t2, { to: 't2' });
        await waitFor(() => a.received.length === 1 && b.received.length === 1, 'both messages');
        await bus.publish(uid('nobody'), { to: 'nobody' });
        // A later message on t1 proves the stray one above had its chance to arrive.
        await bus.publish(t1, { to: 't1', n: 2 });
        await waitFor(() => a.received.length === 2, 'second t1 message');
        expect(a.received).toEqual([{ to: 't1' }, { to: 't1', n: 2 }]);
        expect(b.received).toEqual([{ to: 't2' }]);
        await a.unsubscribe();
        await b.unsubscribe();
      });

      it('delivers asynchronously, never inside publish()', async () => {
        const topic = uid('async');
        const { received, unsubscribe } = await collect(bus, topic);
        const pending = bus.publish(topic, 'hello');
        expect(received).toEqual([]);
        await pending;
        await waitFor(() => received.length === 1, 'the message');
        expect(received).toEqual(['hello']);
        await unsubscribe();
      });

      it('passes the topic to the handler', async () => {
        const topic = uid('topic-arg');
        const topics: string[] = [];
        const unsubscribe = await bus.subscribe(topic, (_message, t) => {
          topics.push(t);
        });
        await bus.publish(topic, 1);
        await waitFor(() => topics.length === 1, 'the message');
        expect(topics).toEqual([topic]);
        await unsubscribe();
      });

      it('delivers to every handler of a topic, the same function twice included', async () => {
        const topic = uid('multi');
        const a = await collect(bus, topic);
        const b = await collect(bus, topic);
        const calls: unknown[] = [];
        const handler = (m: unknown) => {
          calls.push(m);
        };
        const offFirst = await bus.subscribe(topic, handler);
        const offSecond = await bus.subscribe(topic, handler);
        await bus.publish(topic, { n: 1 });
        await waitFor(() => a.received.length === 1 && b.received.length === 1 && calls.length === 2, 'all');
        expect(a.received).toEqual([{ n: 1 }]);
        expect(b.received).toEqual([{ n: 1 }]);
        for (const off of [a.unsubscribe, b.unsubscribe, offFirst, offSecond]) await off();
      });

      it('stops delivery to an unsubscribed handler, and resubscribing works', async () => {
        const topic = uid('unsub');
        const a = await collect(bus, topic);
        const b = await collect(bus, topic);
        await a.unsubscribe();
        await a.unsubscribe(); // idempotent
        await bus.publish(topic, 1);
        await waitFor(() => b.received.length === 1, 'b to get 1');
        await b.unsubscribe();
        const c = await collect(bus, topic);
        await bus.publish(topic, 2);
        await waitFor(() => c.received.length === 1, 'c to get 2');
        expect(a.received).toEqual([]);
        expect(b.received).toEqual([1]);
        expect(c.received).toEqual([2]);
        await c.unsubscribe();
      });

      it('drops a message for a handler unsubscribed between publish and delivery', async () => {
        const topic = uid('late-unsub');
        const a = await collect(bus, topic);
        const b = await collect(bus, topic);
        const pending = bus.publish(topic, 'x');
        await a.unsubscribe();
        await pending;
        await waitFor(() => b.received.length === 1, 'b to get x');
        expect(a.received).toEqual([]);
        await b.unsubscribe();
      });

      it('gives every handler its own copy of the message', async () => {
        const topic = uid('copy');
        const original = { nested: { value: 1 }, list: [1, 2] };
        const mutator = await bus.subscribe(topic, (m) => {
          const msg = m as typeof original;
          msg.nested.value = 99;
          msg.list.push(3);
        });
        const reader = await collect(bus, topic);
        const pending = bus.publish(topic, original);
        original.nested.value = 2; // the publisher's later changes do not travel either
        await pending;
        await waitFor(() => reader.received.length === 1, 'the message');
        expect(reader.received[0]).toEqual({ nested: { value: 1 }, list: [1, 2] });
        expect(reader.received[0]).not.toBe(original);
        await mutator();
        await reader.unsubscribe();
      });

      it('keeps the publish order of a topic', async () => {
        const topic = uid('order');
        const { received, unsubscribe } = await collect(bus, topic);
        const sent = Array.from({ length: 200 }, (_, i) => i);
        await Promise.all(sent.map((i) => bus.publish(topic, { i })));
        await waitFor(() => received.length === sent.length, 'all 200 messages');
        expect(received).toEqual(sent.map((i) => ({ i })));
        await unsubscribe();
      });

      it('rejects a message that is not JSON-serialisable', async () => {
        await expect(bus.publish(uid('bad'), undefined)).rejects.toThrow(TypeError);
        await expect(bus.publish(uid('bad'), { n: 1n })).rejects.toThrow(TypeError);
      });

      it('keeps delivering to other handlers when one throws', async () => {
        const topic = uid('throws');
        const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
        try {
          const bad = await bus.subscribe(topic, () => {
            throw new Error('handler bug');
          });
          const good = await collect(bus, topic);
          await bus.publish(topic, 'still here');
          await waitFor(() => good.received.length === 1, 'the good handler');
          await waitFor(() => warn.mock.calls.length > 0, 'the warning');
          expect(warn.mock.calls[0]?.[0]).toBe('bus handler threw');
          await bad();
          await good.unsubscribe();
        } finally {
          warn.mockRestore();
        }
      });
    });

    describe('presence', () => {
      it('adds, lists, counts and removes members', async () => {
        const set = uid('room');
        expect(await bus.presenceMembers(set)).toEqual([]);
        expect(await bus.presenceCount(set)).toBe(0);
        await bus.presenceAdd(set, 'alice', 60_000);
        await bus.presenceAdd(set, 'bob', 60_000);
        await bus.presenceAdd(set, 'alice', 60_000); // a set: no duplicates
        expect((await bus.presenceMembers(set)).sort()).toEqual(['alice', 'bob']);
        expect(await bus.presenceCount(set)).toBe(2);
        await bus.presenceRemove(set, 'alice');
        await bus.presenceRemove(set, 'nobody');
        expect(await bus.presenceMembers(set)).toEqual(['bob']);
        expect(await bus.presenceCount(set)).toBe(1);
        await bus.presenceRemove(set, 'bob');
        expect(await bus.presenceCount(set)).toBe(0);
      });

      it('keeps sets apart', async () => {
        const [s1, s2] = [uid('s1'), uid('s2')];
        await bus.presenceAdd(s1, 'x', 60_000);
        expect(await bus.presenceMembers(s2)).toEqual([]);
        await bus.presenceRemove(s2, 'x');
        expect(await bus.presenceMembers(s1)).toEqual(['x']);
      });

      it('expires members after their TTL', async () => {
        const set = uid('ttl');
        await bus.presenceAdd(set, 'short', 200);
        await bus.presenceAdd(set, 'long', 60_000);
        expect(await bus.presenceCount(set)).toBe(2);
        await sleep(300);
        expect(await bus.presenceMembers(set)).toEqual(['long']);
        expect(await bus.presenceCount(set)).toBe(1);
      });

      it('extends the TTL when a member is added again', async () => {
        const set = uid('refresh');
        // Margins of 200 ms keep this honest on a loaded machine, where timers fire late.
        await bus.presenceAdd(set, 'm', 600);
        await sleep(400);
        await bus.presenceAdd(set, 'm', 600);
        await sleep(400); // past the first expiry, within the refreshed one
        expect(await bus.presenceMembers(set)).toEqual(['m']);
        await sleep(300);
        expect(await bus.presenceMembers(set)).toEqual([]);
      });

      it('rejects a TTL that is not a positive integer', async () => {
        await expect(bus.presenceAdd(uid('bad'), 'm', 0)).rejects.toThrow(RangeError);
        await expect(bus.presenceAdd(uid('bad'), 'm', 1.5)).rejects.toThrow(RangeError);
      });
    });

    describe('counters', () => {
      it('counts within an epoch-aligned window and starts over in the next one', async () => {
        const key = uid('window');
        const windowMs = 400;
        await sleep(windowMs - (Date.now() % windowMs) + 10);
        const before = Date.now();
        const first = await bus.counters.hit(key, windowMs);
        const second = await bus.counters.hit(key, windowMs);
        const third = await bus.counters.hit(key, windowMs);
        expect([first.count, second.count, third.count]).toEqual([1, 2, 3]);
        expect(second.resetAt).toBe(first.resetAt);
        expect(third.resetAt).toBe(first.resetAt);
        expect(first.resetAt % windowMs).toBe(0);
        expect(first.resetAt).toBeGreaterThan(before);
        expect(first.resetAt - before).toBeLessThanOrEqual(windowMs);
        expect((await bus.counters.hit(uid('other'), windowMs)).count).toBe(1);

        await sleep(first.resetAt - Date.now() + 10);
        const next = await bus.counters.hit(key, windowMs);
        expect(next.count).toBe(1);
        expect(next.resetAt).toBe(first.resetAt + windowMs);
      });

      it('adds the cost of a hit, and cost 0 only reads', async () => {
        const key = uid('cost');
        await freshWindow(60_000, 1_000);
        expect((await bus.counters.hit(key, 60_000, 5)).count).toBe(5);
        expect((await bus.counters.hit(key, 60_000, 2)).count).toBe(7);
        expect((await bus.counters.hit(key, 60_000, 0)).count).toBe(7);
        expect((await bus.counters.hit(key, 60_000)).count).toBe(8);
      });

      it('forgets a key on reset', async () => {
        const key = uid('reset');
        await freshWindow(60_000, 1_000);
        await bus.counters.hit(key, 60_000, 3);
        await bus.counters.reset(key);
        await bus.counters.reset(uid('never-hit'));
        expect((await bus.counters.hit(key, 60_000)).count).toBe(1);
      });

      it('keeps a sliding window: at most `limit` admitted in any span, refusals not counted', async () => {
        const key = uid('slide');
        const results = [];
        for (let i = 0; i < 4; i++) results.push(await bus.counters.slide(key, 3, 400));
        expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
        expect(results.map((r) => r.count)).toEqual([1, 2, 3, 3]);
        expect(results[3]!.retryAfterMs).toBeGreaterThan(0);
        expect(results[3]!.retryAfterMs).toBeLessThanOrEqual(401);
        expect((await bus.counters.slide(uid('other'), 3, 400)).allowed).toBe(true);
        await sleep(results[3]!.retryAfterMs + 20);
        expect((await bus.counters.slide(key, 3, 400)).allowed).toBe(true);
        await bus.counters.reset(key);
        expect((await bus.counters.slide(key, 1, 60_000)).count).toBe(1);
        await expect(bus.counters.slide(key, 0, 1_000)).rejects.toThrow(RangeError);
      });

      it('rejects a window or cost that is not an integer in range', async () => {
        await expect(bus.counters.hit(uid('bad'), 0)).rejects.toThrow(RangeError);
        await expect(bus.counters.hit(uid('bad'), 1_000, -1)).rejects.toThrow(RangeError);
        await expect(bus.counters.hit(uid('bad'), 1_000, 0.5)).rejects.toThrow(RangeError);
      });
    });

    describe('lifecycle', () => {
      it('answers ping while open', async () => {
        await expect(bus.ping()).resolves.toBeUndefined();
      });

      it('refuses work after close, and close is idempotent', async () => {
        const other = await makeBus();
        await other.ping();
        await other.close();
        await other.close();
        await expect(other.ping()).rejects.toThrow(/closed/);
        await expect(other.publish(uid('closed'), 1)).rejects.toThrow(/closed/);
        await expect(other.subscribe(uid('closed'), () => undefined)).rejects.toThrow(/closed/);
        await expect(other.presenceCount(uid('closed'))).rejects.toThrow(/closed/);
      });
    });
  });
}

const makeRedisBus = () => createRedisBus(REDIS_URL, { keyPrefix: TEST_PREFIX });

busContract('local', async () => createLocalBus());
busContract('redis', makeRedisBus, redisSkipReason);

describe.skipIf(redisSkipReason !== undefined)('Redis bus across nodes', () => {
  let nodeA: Bus;
  let nodeB: Bus;
  let raw: Redis;

  beforeAll(async () => {
    [nodeA, nodeB] = await Promise.all([makeRedisBus(), makeRedisBus()]);
    raw = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await Promise.all([nodeA?.close(), nodeB?.close()]);
    if (!raw) return;
    // Everything this file wrote has a TTL, but leave the shared Redis as clean as we found it.
    const keys = await raw.keys(`${TEST_PREFIX}*`);
    if (keys.length > 0) await raw.del(...keys);
    await raw.quit();
  });

  it('delivers a message published on A to subscribers on B and on A', async () => {
    const topic = uid('cross');
    const onB = await collect(nodeB, topic);
    const onA = await collect(nodeA, topic);
    await nodeA.publish(topic, { from: 'A' });
    await waitFor(() => onA.received.length === 1 && onB.received.length === 1, 'both nodes');
    expect(onB.received).toEqual([{ from: 'A' }]);
    expect(onA.received).toEqual([{ from: 'A' }]);
    await onA.unsubscribe();
    await onB.unsubscribe();
  });

  it('adds up counter hits from both nodes', async () => {
    const key = uid('shared-counter');
    await freshWindow(60_000, 1_000);
    await nodeA.counters.hit(key, 60_000);
    await nodeB.counters.hit(key, 60_000, 2);
    const last = await nodeA.counters.hit(key, 60_000);
    expect(last.count).toBe(4);
    await nodeB.counters.reset(key);
    expect((await nodeA.counters.hit(key, 60_000)).count).toBe(1);
  });

  it('shares a sliding window between nodes', async () => {
    const key = uid('slide');
    expect((await nodeA.counters.slide(key, 3, 60_000)).allowed).toBe(true);
    expect((await nodeB.counters.slide(key, 3, 60_000)).allowed).toBe(true);
    expect((await nodeA.counters.slide(key, 3, 60_000)).allowed).toBe(true);
    expect((await nodeB.counters.slide(key, 3, 60_000)).allowed).toBe(false);
  });

  it('shares presence between nodes', async () => {
    const set = uid('shared-room');
    await nodeA.presenceAdd(set, 'alice', 60_000);
    await nodeB.presenceAdd(set, 'bob', 60_000);
    expect((await nodeB.presenceMembers(set)).sort()).toEqual(['alice', 'bob']);
    await nodeB.presenceRemove(set, 'alice');
    expect(await nodeA.presenceMembers(set)).toEqual(['bob']);
    expect(await nodeA.presenceCount(set)).toBe(1);
  });

  it('holds one Redis subscription per topic however many handlers', async () => {
    const topic = uid('refcount');
    const channel = `${TEST_PREFIX}topic:${topic}`;
    const numsub = async () => Number(((await raw.pubsub('NUMSUB', channel)) as [string, number])[1]);
    const [offA, offB] = await Promise.all([
      nodeA.subscribe(topic, () => undefined),
      nodeA.subscribe(topic, () => undefined),
    ]);
    expect(await numsub()).toBe(1);
    await offA();
    expect(await numsub()).toBe(1);
    await offB();
    expect(await numsub()).toBe(0);
  });

  it('keeps deployments with different key prefixes apart', async () => {
    const other = await createRedisBus(REDIS_URL, { keyPrefix: `${TEST_PREFIX}other:` });
    try {
      const topic = uid('prefix');
      const elsewhere = await collect(other, topic);
      const here = await collect(nodeB, topic);
      await nodeA.publish(topic, 'mine');
      await other.publish(topic, 'theirs');
      await waitFor(() => here.received.length === 1 && elsewhere.received.length === 1, 'both');
      expect(here.received).toEqual(['mine']);
      expect(elsewhere.received).toEqual(['theirs']);

      const set = uid('prefix-room');
      await nodeA.presenceAdd(set, 'alice', 60_000);
      expect(await other.presenceCount(set)).toBe(0);
      const key = uid('prefix-counter');
      await nodeA.counters.hit(key, 60_000, 5);
      expect((await other.counters.hit(key, 60_000)).count).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('stores its keys under the prefix only', async () => {
    const set = uid('keys-room');
    const key = uid('keys-counter');
    await nodeA.presenceAdd(set, 'alice', 60_000);
    await nodeA.counters.hit(key, 60_000);
    expect(await raw.exists(`${TEST_PREFIX}presence:${set}`, `${TEST_PREFIX}counter:${key}`)).toBe(2);
    expect(await raw.pttl(`${TEST_PREFIX}presence:${set}`)).toBeGreaterThan(0);
    expect(await raw.pttl(`${TEST_PREFIX}counter:${key}`)).toBeGreaterThan(0);
  });
});

describe('createBus', () => {
  it('builds the in-process bus without a Redis URL', async () => {
    const bus = await createBus({});
    expect(bus.kind).toBe('local');
    await bus.close();
  });

  it.skipIf(redisSkipReason !== undefined)('builds the Redis bus with a URL', async () => {
    const bus = await createBus({ redisUrl: REDIS_URL, keyPrefix: TEST_PREFIX });
    expect(bus.kind).toBe('redis');
    await bus.ping();
    await bus.close();
  });

  it('fails fast on an unreachable Redis without leaking the password', async () => {
    const warnings: string[] = [];
    const log = { warn: (_obj: object, msg?: string) => void warnings.push(msg ?? '') };
    const attempt = createBus({ redisUrl: 'redis://:hunter2@127.0.0.1:1', log });
    await expect(attempt).rejects.toThrow(/Redis unreachable at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
    expect(warnings).toContain('redis connection error');
  });
});
