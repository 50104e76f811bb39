import { z } from 'zod';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';

// How the embedded browser's frames authenticate. Proxied pages run in an opaque origin (the
// sandboxing CSP), and browsers send no cookie from there, so the credential travels in the URL:
// `/proxy/{id}/~t.<ticket>/…`, which relative links, scripts, fonts, fetches and WebSockets all
// inherit. The ticket is the caller's own credential sealed with the SecretBox together with the
// connection, the client address and an expiry: it opens nothing but this connection's proxy, from
// that address, for that long, and dies with the session it wraps (every use re-checks it).

export const TICKET_MARK = '~t.';
export const TICKET_TTL_MS = 12 * 60 * 60 * 1000;

const ZTicket = z.object({
  c: z.string(),
  u: z.number().int(),
  k: z.enum(['bearer', 'cookie']),
  t: z.string(),
  ip: z.string(),
  e: z.number(),
});
export type TicketBody = z.infer<typeof ZTicket>;
export type TicketCredential = Pick<TicketBody, 'k' | 't'>;

export function mintTicket(
  box: SecretBox,
  opts: { connectionId: string; userId: number; credential: TicketCredential; ip: string; now?: number },
): string {
  const body: TicketBody = {
    c: opts.connectionId,
    u: opts.userId,
    ...opts.credential,
    ip: opts.ip,
    e: (opts.now ?? Date.now()) + TICKET_TTL_MS,
  };
  return box.encrypt(JSON.stringify(body));
}

const expired = () => new AppError('UNAUTHORIZED', 'This browser link has expired: open the browser again');

/** The ticket's body when it is genuine, for this connection and address, and not expired. */
export function openTicket(
  box: SecretBox,
  sealed: string,
  opts: { connectionId: string; ip: string },
): TicketBody {
  let body: TicketBody;
  try {
    body = ZTicket.parse(JSON.parse(box.decrypt(sealed)));
  } catch {
    throw new AppError('UNAUTHORIZED');
  }
  if (body.c !== opts.connectionId) throw new AppError('UNAUTHORIZED');
  // A new address (a phone changing networks) or an old link: the browser page mints a new one.
  if (body.ip !== opts.ip || body.e < Date.now()) throw expired();
  return body;
}
