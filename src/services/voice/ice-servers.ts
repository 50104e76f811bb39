import { createHmac } from 'node:crypto';

// ICE servers for WebRTC voice (API.md §8, seed 002). TURN relays cost bandwidth, so their
// credentials are the "TURN REST API" kind (coturn `use-auth-secret`): the username carries its
// own expiry and the password is an HMAC the TURN server can check with the shared secret alone.

export const DEFAULT_STUN_URL = 'stun:stun.l.google.com:19302';

/** How long handed-out TURN credentials stay valid. */
export const TURN_CREDENTIAL_TTL_SECONDS = 24 * 60 * 60;

export type IceServer = { urls: string; username?: string; credential?: string };
export type IceServers = { ice_servers: IceServer[]; ttl?: number };

/** The TURN REST API password for a username: base64(HMAC-SHA1(secret, username)). */
export const turnCredential = (secret: string, username: string) =>
  createHmac('sha1', secret).update(username).digest('base64');

/**
 * STUN always (the configured stun: URLs, else a public default); TURN entries only when both
 * TURN_URLS and TURN_SECRET are set, since a TURN URL without credentials is of no use to clients.
 */
export function iceServersFor(opts: {
  userId: number;
  turnUrls?: string | undefined;
  turnSecret?: string | undefined;
  now?: Date;
}): IceServers {
  const urls = (opts.turnUrls ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  const stun = urls.filter((u) => /^stuns?:/i.test(u));
  const turn = urls.filter((u) => /^turns?:/i.test(u));
  const servers: IceServer[] = (stun.length > 0 ? stun : [DEFAULT_STUN_URL]).map((u) => ({ urls: u }));
  if (turn.length === 0 || !opts.turnSecret) return { ice_servers: servers };

  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const username = `${now + TURN_CREDENTIAL_TTL_SECONDS}:${opts.userId}`;
  const credential = turnCredential(opts.turnSecret, username);
  for (const u of turn) servers.push({ urls: u, username, credential });
  return { ice_servers: servers, ttl: TURN_CREDENTIAL_TTL_SECONDS };
}
