import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Rate-limit windows are aligned to the minute. A test that must fit in one window waits for
 * the next one when fewer than `budgetMs` remain in the current one.
 */
export async function fitInOneMinuteWindow(budgetMs: number) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < budgetMs) await sleep(left + 50);
}
