import { parse as parseCookies } from 'cookie';
import { AppError } from '../../core/errors';
import { assertCookieUpgradeOrigin } from '../../core/same-origin';
import type { AppDeps } from '../../deps';
import { bearerFrom } from '../../rest/middleware/authenticate';
import type { UserActor } from '../../services/auth/actor';
import { keyAllows } from '../../services/auth/api-keys';
import { resolveCredentials } from '../../services/auth/resolve';
import { SESSION_COOKIE } from '../../services/auth/sessions';
import { serviceSshTarget } from '../../services/connections/service-login';
import { RELAY_PATHS } from '../../services/connections/service-plugins';
import { findVisibleService } from '../../services/connections/shared-services';
import { loadSshTarget } from '../../services/sftp/ssh-session';
import { LEVEL } from '../../services/users/policy';
import { isWebType } from '../../services/web-proxy/targets';
import { CloseCode } from '../protocol';
import type { RealtimeSocket, RealtimeTransport, UpgradeRequest } from '../types';
import {
  type Backpressure,
  DEFAULT_BACKPRESSURE,
  RELAY_MESSAGES_PER_SECOND,
  type RelayLimits,
} from './common';
import { MuxRelay } from './mux';
import { ptyTerminal } from './pty';
import { sshTerminal } from './ssh';
import { isMuxRelayType, isRawRelayType, loadOwnedConnection, TcpRelay, type TcpTarget } from './tcp';
import { type OpenTerminal, TerminalRelay } from './terminal';

// The relays of API.md §6/§9, on two routes:
// - `/ws/user-connection/:id`: the caller's own connection, by type: `ssh` → a PTY shell through
//   ssh2 (terminal JSON protocol), or one command with `?command=` (ssh exec); plugin `vnc` (vnc, rdp), `spice`, `tunnel` (database, redis,
//   tcp_tunnel) → raw binary TCP (tcp.ts); `tunnel` with `?mux=1` → the multiplexed `secure_tunnel`
//   (mux.ts, docs/relay-mux.md); the http family is refused 400 (it goes through the web proxy,
//   /proxy/, and the /browser page), and so is mediamtx.
// - `/ws/:plugin/:serviceId`: an admin-configured service the caller's scopes can see (404
//   otherwise), whose plugin the path names (service-plugins.ts): ssh with the service's sealed
//   login, terminal (a PTY on this host: TERMINAL_ENABLED and Admin+ only), vnc/spice/rdp/
//   tcp_tunnel/tunnel raw, secure_tunnel multiplexed.
// Authentication as on /ws/portal (?token=, Bearer, session cookie), no first-message auth: the
// target is looked up during the upgrade so a refusal is an HTTP 4xx. One per-user cap, one idle
// timeout and one teardown cover every relay on both routes.

export const USER_CONNECTION_PATH = '/ws/user-connection/:id';

const MAX_COMMAND = 4096;

/** `?command=`: run that command (ssh exec) instead of a login shell. */
function commandOf(req: UpgradeRequest): string | undefined {
  const command = req.query.get('command');
  if (command === null) return undefined;
  if (command.trim() === '') throw new AppError('BAD_REQUEST', 'command must not be empty');
  if (command.length > MAX_COMMAND)
    throw new AppError('BAD_REQUEST', `command must be at most ${MAX_COMMAND} characters`);
  if (command.includes('\0')) throw new AppError('BAD_REQUEST', 'command contains invalid characters');
  return command;
}
export const SERVICE_RELAY_PATH = '/ws/:plugin/:serviceId';

export type RelayAuth = { userId: number; label: string } & (
  | { kind: 'terminal'; open: OpenTerminal }
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
  const { env } = deps;
  const db = deps.database.db;
  const log = deps.log.child({ component: 'ws-relay' });
  const maxRelays = opts.maxRelaysPerUser ?? 10;
  const limits: RelayLimits = {
    backpressure: opts.backpressure ?? DEFAULT_BACKPRESSURE,
    idleTimeoutMs: env.RELAY_IDLE_TIMEOUT_SECONDS * 1000,
  };
  const perUser = new Map<number, number>();
  const relays = new Map<string, { relay: Relay; userId: number }>();
  const count = (userId: number) => perUser.get(userId) ?? 0;

  /** The signed-in user behind an upgrade; an API key needs the router group's scope. */
  async function caller(req: UpgradeRequest, group: string): Promise<UserActor> {
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
    if (actor.keyScopes !== null && !keyAllows(actor.keyScopes, group, false))
      throw new AppError('FORBIDDEN');
    if (!bearer) assertCookieUpgradeOrigin(req.headers);
    return actor;
  }

  const checkCap = (userId: number) => {
    if (count(userId) >= maxRelays) throw new AppError('TOO_MANY_REQUESTS', 'Too many open relays');
  };

  async function authenticateConnection(req: UpgradeRequest): Promise<RelayAuth> {
    const { userId } = await caller(req, 'connections');
    const id = req.params.id ?? '';
    const connection = await loadOwnedConnection(db, userId, id);
    const label = `connection:${connection.connectionId}`;
    let auth: RelayAuth;
    if (req.query.get('mux') === '1') {
      if (!isMuxRelayType(connection.type))
        throw new AppError('BAD_REQUEST', 'Multiplexing is only available for tunnel connections');
      auth = { userId, label, kind: 'mux', target: connection };
    } else if (connection.type === 'ssh') {
      const command = commandOf(req);
      const target = await loadSshTarget({ db, box: deps.secretBox, userId, id });
      auth = { userId, label, kind: 'terminal', open: sshTerminal(target, command) };
    } else if (isRawRelayType(connection.type)) {
      auth = { userId, label, kind: 'tcp', target: connection };
    } else if (isWebType(connection.type)) {
      throw new AppError(
        'BAD_REQUEST',
        `Web connections open in the embedded browser: /browser?connection=${connection.connectionId}`,
      );
    } else {
      throw new AppError('BAD_REQUEST', 'This connection type is not relayed yet');
    }
    checkCap(userId);
    return auth;
  }

  async function authenticateService(req: UpgradeRequest): Promise<RelayAuth> {
    const path = RELAY_PATHS[req.params.plugin ?? ''];
    if (!path) throw new AppError('NOT_FOUND', 'Unknown relay plugin');
    const actor = await caller(req, 'services');
    const { userId } = actor;
    const serviceId = Number(req.params.serviceId);
    if (!Number.isSafeInteger(serviceId) || serviceId <= 0 || serviceId > 2 ** 31 - 1)
      throw new AppError('NOT_FOUND', 'Service not found');
    const service = await findVisibleService(db, actor.scopes, serviceId);
    const plugin = req.params.plugin as string;
    if (!(path.opens as readonly string[]).includes(service.plugin))
      throw new AppError('BAD_REQUEST', `This service uses the ${service.plugin} plugin, not ${plugin}`);
    const label = `service:${service.id}`;
    const target: TcpTarget = {
      connectionId: label,
      type: service.plugin,
      host: service.host,
      port: service.port,
      // Users never see a service's backend address (serviceView), error messages included.
      shownAs: `the ${service.name} service`,
    };
    let auth: RelayAuth;
    switch (path.kind) {
      case 'terminal':
        if (!env.TERMINAL_ENABLED)
          throw new AppError('FORBIDDEN', 'The terminal plugin is disabled on this server');
        if (actor.level < LEVEL.ADMIN) throw new AppError('FORBIDDEN', 'Admin access required');
        auth = { userId, label, kind: 'terminal', open: ptyTerminal(env.TERMINAL_SHELL) };
        break;
      case 'ssh':
        auth = {
          userId,
          label,
          kind: 'terminal',
          open: sshTerminal(serviceSshTarget(db, deps.secretBox, service)),
        };
        break;
      default:
        auth = { userId, label, kind: path.kind, target };
    }
    checkCap(userId);
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

  const createRelay = (socket: RealtimeSocket<RelayAuth>): Relay => {
    const auth = socket.auth;
    if (auth.kind === 'terminal') return new TerminalRelay(socket, auth.open, limits);
    if (auth.kind === 'mux') return new MuxRelay(socket, auth.target, limits);
    return new TcpRelay(socket, auth.target, limits);
  };

  for (const [pattern, authenticate] of [
    [USER_CONNECTION_PATH, authenticateConnection],
    [SERVICE_RELAY_PATH, authenticateService],
  ] as const) {
    transport.route<RelayAuth>({
      pattern,
      authenticate,
      limitKey: (auth) => `relay:${auth.userId}`,
      // A relay's frames are the client's own writes: one per keystroke on a terminal, bulk data on
      // a tunnel (100 MB/s in 32 KiB frames is 3,200 a second; VNC clients send many small ones).
      // Each costs one write to the backend and bytes are bounded by the inbound queue, so the
      // budget only stops a frame flood, not a transfer.
      messagesPerSecond: RELAY_MESSAGES_PER_SECOND,

      onOpen(socket) {
        const { userId } = socket.auth;
        // The upgrade checked the cap; this closes the race between two upgrades of one user.
        if (count(userId) >= maxRelays) {
          socket.close(CloseCode.RATE_LIMITED, 'Too many open relays');
          return;
        }
        perUser.set(userId, count(userId) + 1);
        const relay = createRelay(socket);
        relays.set(socket.id, { relay, userId });
        Promise.resolve()
          .then(() => relay.start())
          .catch((err) => {
            log.error({ err, target: socket.auth.label, kind: socket.auth.kind }, 'relay failed');
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
  }

  log.info({ paths: [USER_CONNECTION_PATH, SERVICE_RELAY_PATH] }, 'relay hub registered');
  return { activeRelays: count };
}
