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

/**
 * Waits until at most `lastMs` are left in the current epoch-aligned window, then returns a
 * function that waits until that window has ended: a burst sent between the two straddles a
 * boundary, where a fixed window would start counting afresh.
 */
export async function lateInWindow(windowMs: number, lastMs: number) {
  const left = windowMs - (Date.now() % windowMs);
  if (left > lastMs) await sleep(left - lastMs);
  const end = Math.ceil(Date.now() / windowMs) * windowMs;
  return () => sleep(Math.max(0, end - Date.now()) + 50);
}
