import { chmodSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { AppError, describeError, type ErrorBody } from '../core/errors';
import type { AppDeps } from '../deps';
import { type AdminRequest, invokeAdmin, ZAdminRequest } from './invoke';

// The local admin channel (docs/decisions.md "Admin CLI and the embedded database"): the embedded
// database admits one process, so while the server holds it the CLI sends its calls here. A Unix
// socket in DATA_DIR, mode 0600: only the operator who could open the data dir anyway can use it.
// One JSON request per connection, `{path, input, as?}`; one JSON answer, `{ok, data | error}`.

export const ADMIN_SOCKET_NAME = 'admin.sock';
export const adminSocketPath = (dataDir: string) => join(resolve(dataDir), ADMIN_SOCKET_NAME);

const MAX_REQUEST_BYTES = 1024 * 1024;
const IDLE_TIMEOUT_MS = 30_000;

export type AdminChannelReply = { ok: true; data: unknown } | { ok: false; error: ErrorBody };

export type AdminChannel = { path: string; close(): Promise<void> };

export async function startAdminChannel(deps: AppDeps): Promise<AdminChannel> {
  const path = adminSocketPath(deps.env.DATA_DIR);
  const log = deps.log.child({ component: 'admin-channel' });
  // A socket file left by a process that died; this process holds the data dir lock, so it is stale.
  rmSync(path, { force: true });
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    const chunks: Buffer[] = [];
    let size = 0;
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        reply(socket, { ok: false, error: describeError(new AppError('PAYLOAD_TOO_LARGE')).body });
        return;
      }
      chunks.push(chunk);
    });
    socket.once('end', () => {
      if (size > MAX_REQUEST_BYTES) return;
      const work = answer(deps, Buffer.concat(chunks).toString('utf8'), log).then((res) =>
        reply(socket, res),
      );
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    });
  });

  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(path, () => {
        server.off('error', fail);
        ok();
      });
    });
    chmodSync(path, 0o600);
  } catch (err) {
    // The HTTP service matters more than this convenience; the CLI will say the channel is down.
    log.error({ err, path }, 'admin channel could not listen; the admin CLI cannot reach this server');
    server.close();
    return { path, close: async () => {} };
  }
  server.on('error', (err) => log.error({ err }, 'admin channel error'));
  log.info({ path }, 'admin channel listening');

  let closing: Promise<void> | undefined;
  return {
    path,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((ok) => server.close(() => ok()));
        await Promise.allSettled([...inFlight]);
        for (const socket of sockets) socket.destroy();
        await closed;
        rmSync(path, { force: true });
      })();
      return closing;
    },
  };
}

async function answer(deps: AppDeps, text: string, log: AppDeps['log']): Promise<AdminChannelReply> {
  let request: AdminRequest | undefined;
  try {
    request = ZAdminRequest.parse(JSON.parse(text));
    const data = await invokeAdmin(deps, request);
    log.info({ path: request.path, as: request.as ?? 'system' }, 'admin command');
    return { ok: true, data };
  } catch (err) {
    const described =
      err instanceof SyntaxError
        ? { body: { error: 'Malformed JSON in request', status: 400 }, internal: false }
        : describeError(err);
    const fields = { path: request?.path, as: request?.as ?? 'system', status: described.body.status };
    if (described.internal) log.error({ ...fields, err }, 'admin command failed');
    else log.info(fields, 'admin command refused');
    return { ok: false, error: described.body };
  }
}

function reply(socket: Socket, res: AdminChannelReply) {
  if (!socket.destroyed) socket.end(`${JSON.stringify(res)}\n`);
}

/** An error answered by the server: its contract body is printed as it came. */
export class RemoteAdminError extends Error {
  override name = 'RemoteAdminError';
  constructor(readonly body: ErrorBody) {
    super(body.error);
  }
}

/** The CLI side: one request, one answer. */
export function callAdminChannel(path: string, request: AdminRequest, timeoutMs = 120_000): Promise<unknown> {
  return new Promise((ok, fail) => {
    const socket = connect(path);
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      fail(new AppError('SERVICE_UNAVAILABLE', `The admin channel at ${path} did not answer in time`));
    });
    socket.once('connect', () => socket.end(JSON.stringify(request)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        new AppError(
          'SERVICE_UNAVAILABLE',
          `The admin channel at ${path} is not answering (${err.code ?? err.message})`,
        ),
      ),
    );
    socket.once('end', () => {
      let res: AdminChannelReply;
      try {
        res = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdminChannelReply;
      } catch {
        fail(new AppError('SERVICE_UNAVAILABLE', `The admin channel at ${path} sent an unreadable answer`));
        return;
      }
      if (res.ok) ok(res.data);
      else fail(new RemoteAdminError(res.error));
    });
  });
}
