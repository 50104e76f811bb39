import { z } from 'zod';
import type { SocketData } from '../types';

// The terminal JSON protocol of seed 002, spoken by the `ssh` relays (a PTY shell through ssh2) and
// the `terminal` plugin (a PTY on the Portal host):
//   client {type:"input",data} {type:"resize",cols,rows} {type:"ping"}
//   server {type:"output",data} {type:"pong"} {type:"error",message}

/** Largest `input` in one frame (a paste); WS_MAX_PAYLOAD_BYTES bounds the frame anyway. */
export const MAX_INPUT_CHARS = 64 * 1024;

export const TerminalClientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input'), data: z.string().max(MAX_INPUT_CHARS) }),
  z.object({
    type: z.literal('resize'),
    cols: z.number().int().min(1).max(1000),
    rows: z.number().int().min(1).max(1000),
  }),
  z.object({ type: z.literal('ping') }),
]);
export type TerminalClientFrame = z.infer<typeof TerminalClientFrame>;

export type TerminalServerFrame =
  | { type: 'output'; data: string }
  | { type: 'pong' }
  | { type: 'error'; message: string };

/** A client frame, or the message of the `error` frame that answers a bad one. */
export function parseTerminalFrame(
  data: SocketData,
  isBinary: boolean,
): { frame: TerminalClientFrame } | { error: string } {
  let json: unknown;
  try {
    if (isBinary) throw new Error('binary');
    json = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return { error: 'Messages must be JSON text frames' };
  }
  const parsed = TerminalClientFrame.safeParse(json);
  if (parsed.success) return { frame: parsed.data };
  const unknownType = parsed.error.issues[0]?.path[0] === 'type';
  return { error: unknownType ? 'Unknown message type' : 'Invalid message' };
}
