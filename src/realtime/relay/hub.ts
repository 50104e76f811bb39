import { parse as parseCookies } from 'cookie';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import { bearerFrom } from '../../rest/middleware/authenticate';
import { keyAllows } from '../../services/auth/api-keys';
import { resolveCredentials } from '../../services/auth/resolve';
import { SESSION_COOKIE } from '../../services/auth/sessions';
import { loadSshTarget, type SshTarget } from '../../services/sftp/ssh-session';
import { CloseCode } from '../protocol';
import type { RealtimeSocket, RealtimeTransport, UpgradeRequest } from '../types';
import { type Backpressure, DEFAULT_BACKPRESSURE, SshTerminalRelay } from './ssh';

// `/ws/user-connection/:id` (API.md §6, §9): the caller's own connection, relayed. `ssh` opens a
// PTY shell through ssh2 and speaks the terminal JSON protocol of seed 002; other types are refused
// until their relays exist. Authentication as on /ws/portal (?token=, Bearer, session cookie), but
// no first-message auth: the connection is looked up during the upgrade so a refusal is an HTTP 4xx.

export const USER_CONNECTION_PATH = '/ws/user-connection/:id';

export type RelayAuth = { userId: number; target: SshTarget };

export type RelayHub = {
  /** Open relays of a user on this node. */
  activeRelays(userId: number): number;
};

function assertSameOrigin(headers: Record<string, string>) {
  const origin = headers.origin;
  if (!origin) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host !== headers.host) throw new AppError('FORBIDDEN', 'Cross-site request refused');
}

export function registerRelayHub(opts: {
  transport: RealtimeTransport;
  deps: AppDeps;
  /** Concurrent relays per user on this node (default 10). */
  maxRelaysPerUser?: number;
  backpressure?: Backpressure;
}): RelayHub {
  const { transport, deps } = opts;
  const db = deps.database.db;
  const log = deps.log.child({ component: 'ws-relay' });
  const maxRelays = opts.maxRelaysPerUser ?? 10;
  const backpressure = opts.backpressure ?? DEFAULT_BACKPRESSURE;
  const perUser = new Map<number, number>();
  const relays = new Map<string, { relay: SshTerminalRelay; userId: number }>();
  const count = (userId: number) => perUser.get(userId) ?? 0;

  async function authenticate(req: UpgradeRequest): Promise<RelayAuth> {
    const bearer = req.query.get('token') || bearerFrom(req.headers.authorization);
    const cookie = bearer ? undefined : parseCookies(req.headers.cookie ?? '')[SESSION_COOKIE];
    if (!bearer && !cookie) throw new AppError('UNAUTHORIZED');
    const state = await resolveCredentials(db, deps.secretKey, { bearer, cookie, ip: req.ip });
    const actor = state.actor;
    if (!actor) throw new AppError('UNAUTHORIZED');
    if (actor.kind !== 'user') throw new AppError('FORBIDDEN');
    if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, 'connections', false))
      throw new AppError('FORBIDDEN');
    if (!bearer) assertSameOrigin(req.headers);
    const target = await loadSshTarget(
      { db, box: deps.secretBox, userId: actor.userId, id: req.params.id ?? '' },
      'This connection type is not relayed yet',
    );
    if (count(actor.userId) >= maxRelays) throw new AppError('TOO_MANY_REQUESTS', 'Too many open relays');
    return { userId: actor.userId, target };
  }

  const release = (socket: RealtimeSocket<RelayAuth>) => {
    const entry = relays.get(socket.id);
    if (!entry) return;
    relays.delete(socket.id);
    entry.relay.close();
    const left = count(entry.userId) - 1;
    if (left > 0) perUser.set(entry.userId, left);
    else perUser.delete(entry.userId);
  };

  transport.route<RelayAuth>({
    pattern: USER_CONNECTION_PATH,
    authenticate,
    limitKey: (auth) => `relay:${auth.userId}`,
    // Keystrokes arrive one frame each; a paste can be many.
    messagesPerSecond: 1000,

    onOpen(socket) {
      const { userId, target } = socket.auth;
      // The upgrade checked the cap; this closes the race between two upgrades of one user.
      if (count(userId) >= maxRelays) {
        socket.close(CloseCode.RATE_LIMITED, 'Too many open relays');
        return;
      }
      perUser.set(userId, count(userId) + 1);
      const relay = new SshTerminalRelay(socket, target, { db, backpressure });
      relays.set(socket.id, { relay, userId });
      relay.start().catch((err) => {
        log.error({ err, connection_id: target.connectionId }, 'ssh relay failed');
        socket.close(CloseCode.INTERNAL, 'Relay failed');
      });
    },

    onMessage(socket, data, isBinary) {
      relays.get(socket.id)?.relay.handle(data, isBinary);
    },

    onClose(socket) {
      release(socket);
    },
  });

  log.info({ path: USER_CONNECTION_PATH }, 'relay hub registered');
  return { activeRelays: count };
}
