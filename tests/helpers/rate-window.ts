import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Rate-limit windows are aligned to the epoch. A test that must fit in one window waits for the
 * next one when fewer than `budgetMs` remain in the current one.
 */
export async function fitInWindow(windowMs: number, budgetMs: number) {
  const left = windowMs - (Date.now() % windowMs);
  if (left < budgetMs) await sleep(left + 50);
}

/** The tiers count per minute. */
export const fitInOneMinuteWindow = (budgetMs: number) => fitInWindow(60_000, budgetMs);
