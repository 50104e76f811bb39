import { parse as parseCookies } from 'cookie';
import { AppError } from '../../core/errors';
import { assertCookieUpgradeOrigin } from '../../core/same-origin';
import type { AppDeps } from '../../deps';
import { bearerFrom } from '../../rest/middleware/authenticate';
import { keyAllows } from '../../services/auth/api-keys';
import { resolveCredentials } from '../../services/auth/resolve';
import { SESSION_COOKIE } from '../../services/auth/sessions';
import { loadSshTarget, type SshTarget } from '../../services/sftp/ssh-session';
import { CloseCode } from '../protocol';
import type { RealtimeSocket, RealtimeTransport, UpgradeRequest } from '../types';
import { MuxRelay } from './mux';
import { type Backpressure, DEFAULT_BACKPRESSURE, SshTerminalRelay } from './ssh';
import { isMuxRelayType, isRawRelayType, loadOwnedConnection, TcpRelay, type TcpTarget } from './tcp';

// `/ws/user-connection/:id` (API.md §6, §9): the caller's own connection, relayed, by type:
// - `ssh`: a PTY shell through ssh2 speaking the terminal JSON protocol of seed 002 (ssh.ts);
// - plugin `vnc` (vnc, rdp), `spice`, `tunnel` (database, redis, tcp_tunnel): raw binary TCP (tcp.ts);
// - plugin `tunnel` with `?mux=1`: the `secure_tunnel` multiplexed streams (mux.ts, docs/relay-mux.md);
// - anything else (the http family, mediamtx) is refused 400 "This connection type is not relayed yet".
// Authentication as on /ws/portal (?token=, Bearer, session cookie), but no first-message auth: the
// connection is looked up during the upgrade so a refusal is an HTTP 4xx. One per-user cap covers
// every kind of relay.

export const USER_CONNECTION_PATH = '/ws/user-connection/:id';

export type RelayAuth = { userId: number } & (
  | { kind: 'ssh'; target: SshTarget }
  | { kind: 'tcp'; target: TcpTarget }
  | { kind: 'mux'; target: TcpTarget }
);

type Relay = {
  start(): Promise<void> | void;
  handle(data: string | Buffer, isBinary: boolean): void;
  close(): void;
};

export type RelayHub = {
  /** Open relays of a user on this node. */
  activeRelays(userId: number): number;
};

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
  const relays = new Map<string, { relay: Relay; userId: number }>();
  const count = (userId: number) => perUser.get(userId) ?? 0;

  async function authenticate(req: UpgradeRequest): Promise<RelayAuth> {
    const bearer = req.query.get('token') || bearerFrom(req.headers.authorization);
    const cookie = bearer ? undefined : parseCookies(req.headers.cookie ?? '')[SESSION_COOKIE];
    if (!bearer && !cookie) throw new AppError('UNAUTHORIZED');
    const state = await resolveCredentials(
      db,
      deps.secretKey,
      { bearer, cookie, ip: req.ip },
      deps.credentialCache,
    );
    const actor = state.actor;
    if (!actor) throw new AppError('UNAUTHORIZED');
    if (actor.kind !== 'user') throw new AppError('FORBIDDEN');
    if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, 'connections', false))
      throw new AppError('FORBIDDEN');
    if (!bearer) assertCookieUpgradeOrigin(req.headers);
    const id = req.params.id ?? '';
    const userId = actor.userId;
    const connection = await loadOwnedConnection(db, userId, id);
    let auth: RelayAuth;
    if (req.query.get('mux') === '1') {
      if (!isMuxRelayType(connection.type))
        throw new AppError('BAD_REQUEST', 'Multiplexing is only available for tunnel connections');
      auth = { userId, kind: 'mux', target: connection };
    } else if (connection.type === 'ssh') {
      auth = { userId, kind: 'ssh', target: await loadSshTarget({ db, box: deps.secretBox, userId, id }) };
    } else if (isRawRelayType(connection.type)) {
      auth = { userId, kind: 'tcp', target: connection };
    } else {
      throw new AppError('BAD_REQUEST', 'This connection type is not relayed yet');
    }
    if (count(userId) >= maxRelays) throw new AppError('TOO_MANY_REQUESTS', 'Too many open relays');
    return auth;
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
      const auth = socket.auth;
      const { userId } = auth;
      // The upgrade checked the cap; this closes the race between two upgrades of one user.
      if (count(userId) >= maxRelays) {
        socket.close(CloseCode.RATE_LIMITED, 'Too many open relays');
        return;
      }
      perUser.set(userId, count(userId) + 1);
      const relay: Relay =
        auth.kind === 'ssh'
          ? new SshTerminalRelay(socket, auth.target, { db, backpressure })
          : auth.kind === 'mux'
            ? new MuxRelay(socket, auth.target, { backpressure })
            : new TcpRelay(socket, auth.target, { backpressure });
      relays.set(socket.id, { relay, userId });
      Promise.resolve()
        .then(() => relay.start())
        .catch((err) => {
          log.error({ err, connection_id: auth.target.connectionId, kind: auth.kind }, 'relay failed');
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
