import { z } from 'zod';
import { describeZodIssue } from '../../core/errors';
import { MAX_ID } from '../../routers/fields';
import type { SocketData } from '../types';
import { PortalClientType } from './protocol';

const ZRoomRef = z.number().int().positive().max(MAX_ID);

/** Room actions name the room, or act on the room the socket joined. */
const roomAction = <T extends string>(type: T) =>
  z.object({ type: z.literal(type), room_id: ZRoomRef.optional() }).strict();

// Client frames of /ws/portal, validated at the edge (DESIGN.md rule 7). Each `type` has its own
// schema in `clientSchemas`; a new message is one entry here and one handler in handlers.ts.

export const clientSchemas = {
  [PortalClientType.AUTH]: z.object({
    type: z.literal(PortalClientType.AUTH),
    token: z.string().min(1).max(4096),
  }),
  [PortalClientType.PING]: z.object({ type: z.literal(PortalClientType.PING) }),
  [PortalClientType.JOIN_ROOM]: z.object({
    type: z.literal(PortalClientType.JOIN_ROOM),
    room_id: ZRoomRef,
    screen: z.boolean().default(true),
  }),
  [PortalClientType.LEAVE_ROOM]: roomAction(PortalClientType.LEAVE_ROOM),
  [PortalClientType.CONTROL_REQUEST]: roomAction(PortalClientType.CONTROL_REQUEST),
  [PortalClientType.CONTROL_RELEASE]: roomAction(PortalClientType.CONTROL_RELEASE),
  [PortalClientType.CONTROL_TAKE]: roomAction(PortalClientType.CONTROL_TAKE),
  [PortalClientType.CONTROL_GIVE]: roomAction(PortalClientType.CONTROL_GIVE).extend({ user_id: ZRoomRef }),
  /** The envelope of `input`; the event itself (`kind`, …) is checked with ZBrowserInput. */
  [PortalClientType.INPUT]: z
    .object({ type: z.literal(PortalClientType.INPUT), room_id: ZRoomRef.optional() })
    .passthrough(),
} as const;

export type ClientMessage<T extends keyof typeof clientSchemas> = z.infer<(typeof clientSchemas)[T]>;

const ZEnvelope = z.object({ type: z.string().min(1).max(64) });

export type ParsedFrame = { ok: true; type: string; body: unknown } | { ok: false; message: string };

/** JSON text with a string `type`; the type's own schema is applied by the dispatcher. */
export function parseFrame(data: SocketData, isBinary: boolean, path = '/ws/portal'): ParsedFrame {
  if (isBinary) return { ok: false, message: `Binary frames are not accepted on ${path}` };
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
