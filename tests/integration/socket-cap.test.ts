import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createBus, createLocalBus } from '../../src/core/bus';
import type { Bus } from '../../src/core/bus/types';
import { createSocketCap } from '../../src/realtime/socket-cap';
import { clusterSkipReason, redisUrl } from '../helpers/cluster';
import { waitFor } from '../helpers/portal-client';

// The cluster-wide socket cap on a real Bus (in-process, and Redis when it answers): two caps on
// one Bus act as two nodes; a node that dies without releasing its places does not lock the user
// out for longer than the TTL.

const silent = { warn: () => {} };
const skip = await clusterSkipReason();
const buses: Bus[] = [];
afterAll(async () => {
  for (const bus of buses) await bus.close();
});

const suites: Array<[string, () => Promise<Bus>, string | undefined]> = [
  ['in-process bus', async () => createLocalBus({ log: silent }), undefined],
  [
    'Redis bus',
    () => createBus({ redisUrl, keyPrefix: `portal-test-cap-${randomUUID()}:`, log: silent }),
    skip,
  ],
];

describe.each(suites)('socket cap on the %s', (_name, makeBus, reason) => {
  it.skipIf(reason !== undefined)('admits at most `max` sockets of a user across nodes', async () => {
    const bus = await makeBus();
    buses.push(bus);
    const family = `/ws/test-${randomUUID()}`;
    const a = createSocketCap({ bus, family, max: 3, log: silent });
    const b = createSocketCap({ bus, family, max: 3, log: silent });
    try {
      expect(await a.acquire(1, 's1')).toBe(true);
      expect(await b.acquire(1, 's2')).toBe(true);
      expect(await a.acquire(1, 's3')).toBe(true);
      expect(await b.acquire(1, 's4')).toBe(false);
      // A refused socket holds nothing: releasing it frees no place.
      await b.release('s4');
      expect(await a.acquire(1, 's5')).toBe(false);
      expect(await b.acquire(2, 'other-user')).toBe(true);
      await a.release('s1');
      await a.release('s1');
      expect(await b.acquire(1, 's6')).toBe(true);
      expect(await a.count(1)).toBe(3);
    } finally {
      a.close();
      b.close();
    }
  });

  it.skipIf(reason !== undefined)('forgets the places of a node that died, after the TTL', async () => {
    const bus = await makeBus();
    buses.push(bus);
    const family = `/ws/test-${randomUUID()}`;
    const dead = createSocketCap({ bus, family, max: 2, log: silent, ttlMs: 300, refreshMs: 100 });
    const alive = createSocketCap({ bus, family, max: 2, log: silent, ttlMs: 300, refreshMs: 100 });
    try {
      expect(await dead.acquire(7, 'd1')).toBe(true);
      expect(await dead.acquire(7, 'd2')).toBe(true);
      expect(await alive.acquire(7, 'a1')).toBe(false);
      // The node stops refreshing without releasing (a crash).
      dead.close();
      await waitFor(async () => alive.acquire(7, 'a1'), 'the dead node’s entries to expire', 5_000);
      // The living node's refresh keeps its own place past the TTL.
      await new Promise((r) => setTimeout(r, 600));
      expect(await alive.count(7)).toBe(1);
    } finally {
      alive.close();
    }
  });
});
