import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError, appErrorForStatus, describeError, wsCloseCodeFor } from '../../src/core/errors';

const zodError = (schema: z.ZodType, value: unknown) => {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('expected a failure');
  return r.error;
};

describe('describeError', () => {
  it('shows AppError messages and structured fields', () => {
    const d = describeError(new AppError('FORBIDDEN', 'Your account has been banned', { reason: 'spam' }));
    expect(d.body).toEqual({ error: 'Your account has been banned', status: 403, reason: 'spam' });
    expect(d.internal).toBe(false);
  });

  it('turns invalid input into the first field sentence', () => {
    const input = zodError(z.object({ username: z.string().min(3) }), { username: 'ab' });
    const d = describeError(new TRPCError({ code: 'BAD_REQUEST', cause: input }));
    expect(d.body).toEqual({ error: 'username must be at least 3 characters', status: 400 });
  });

  it('keeps a zod failure inside a service internal (a bug, not bad input)', () => {
    const bug = zodError(z.object({ id: z.number() }), { id: 'x' });
    const d = describeError(new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: bug }));
    expect(d.body).toEqual({ error: 'Internal server error', status: 500 });
    expect(d.internal).toBe(true);
  });

  it('describes frames a hub validated with zod directly', () => {
    const frame = zodError(z.object({ type: z.literal('ping') }), {});
    expect(describeError(frame).body.status).toBe(400);
  });

  it('never shows the message of an unknown error', () => {
    const d = describeError(new Error('password=hunter2'));
    expect(d.body).toEqual({ error: 'Internal server error', status: 500 });
    expect(d.internal).toBe(true);
  });

  it('maps tRPC codes through the one table', () => {
    expect(describeError(new TRPCError({ code: 'NOT_FOUND', message: 'No procedure x' })).body).toEqual({
      error: 'Not found',
      status: 404,
    });
    expect(describeError(new TRPCError({ code: 'PARSE_ERROR' })).body.error).toBe(
      'Malformed JSON in request body',
    );
    expect(appErrorForStatus(415).status).toBe(415);
    expect(wsCloseCodeFor(429)).toBe(4429);
  });
});
