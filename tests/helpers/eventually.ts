import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it answers something other than undefined (sync or async), and returns it.
 * Generous by default: the CI machine is busy, and a test never asserts on timing.
 */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what = 'condition',
  timeoutMs = 60_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}
