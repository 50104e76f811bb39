import { z } from 'zod';
import { describeZodIssue } from '../../core/errors';
import type { SocketData } from '../types';
import { PortalClientType } from './protocol';

// Client frames of /ws/portal, validated at the edge (DESIGN.md rule 7). Each `type` has its own
// schema in `clientSchemas`; a new message is one entry here and one handler in handlers.ts.

export const clientSchemas = {
  [PortalClientType.AUTH]: z.object({
    type: z.literal(PortalClientType.AUTH),
    token: z.string().min(1).max(4096),
  }),
  [PortalClientType.PING]: z.object({ type: z.literal(PortalClientType.PING) }),
} as const;

export type ClientMessage<T extends keyof typeof clientSchemas> = z.infer<(typeof clientSchemas)[T]>;

const ZEnvelope = z.object({ type: z.string().min(1).max(64) });

export type ParsedFrame = { ok: true; type: string; body: unknown } | { ok: false; message: string };

/** JSON text with a string `type`; the type's own schema is applied by the dispatcher. */
export function parseFrame(data: SocketData, isBinary: boolean): ParsedFrame {
  if (isBinary) return { ok: false, message: 'Binary frames are not accepted on /ws/portal' };
  let body: unknown;
  try {
    body = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return { ok: false, message: 'Malformed JSON' };
  }
  const envelope = ZEnvelope.safeParse(body);
  if (!envelope.success) return { ok: false, message: describeZodIssue(envelope.error.issues[0]!) };
  return { ok: true, type: envelope.data.type, body };
}

/** The first invalid field as a sentence, like the REST validation errors. */
export function validate<S extends z.ZodType>(
  schema: S,
  body: unknown,
): { ok: true; value: z.infer<S> } | { ok: false; message: string } {
  const parsed = schema.safeParse(body);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, message: describeZodIssue(parsed.error.issues[0]!) };
}
