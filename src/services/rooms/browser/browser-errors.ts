import { AppError } from '../../../core/errors';

// Playwright's failures in the contract's terms, so callers never see driver internals.

export const browserNotRunning = () => new AppError('CONFLICT', 'The browser is not running');

/** A gone page or browser is a conflict, an unknown key a bad request; the rest is ours (500). */
export function toBrowserError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const unknownKey = /Unknown key: "([^"]*)"/.exec(message);
  if (unknownKey) return new AppError('BAD_REQUEST', `Unknown key "${unknownKey[1]}"`);
  if (/closed|crash|disconnected/i.test(message)) return browserNotRunning();
  return new AppError('INTERNAL', 'The browser could not do that', {}, err);
}
