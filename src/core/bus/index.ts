import { type BusLog, createLocalBus } from './local';
import { createRedisBus } from './redis';
import type { Bus } from './types';

export { createLocalBus, createLocalCounterStore } from './local';
export { createRedisBus, createRedisCounterStore } from './redis';
export type { Bus, BusHandler, CounterStore } from './types';
export type { BusLog };

/** Cluster mode when REDIS_URL is set (API.md §11); otherwise everything stays in this process. */
export async function createBus(opts: { redisUrl?: string; keyPrefix?: string; log?: BusLog }): Promise<Bus> {
  if (opts.redisUrl) return createRedisBus(opts.redisUrl, { keyPrefix: opts.keyPrefix, log: opts.log });
  return createLocalBus({ log: opts.log });
}
