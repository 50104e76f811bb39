import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AppError } from '../../core/errors';
import type { ProxyAccess } from './access';
import { loadJar, storeCookies } from './cookie-jar';
import type { ProxyDeps } from './forward';
import { upstreamRequestHeaders } from './headers';
import { targetUrlOf } from './targets';
import { requestUpstream } from './upstream';

// A WebSocket through the proxy: the handshake goes to the backend like any proxied request
// (same target rules, same address checks, the jar's cookies), and once the backend switched
// protocols both sockets are piped byte for byte: frames are not parsed, pipe() carries
// backpressure both ways, and silence past the idle timeout or either side closing ends both.

const HANDSHAKE_HEADERS = [
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
];

function switchingProtocols(headers: IncomingMessage['headers']): string {
  const lines = ['HTTP/1.1 101 Switching Protocols'];
  for (const name of HANDSHAKE_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string') lines.push(`${name}: ${value}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export async function proxyWebSocket(
  deps: ProxyDeps,
  opts: {
    access: ProxyAccess;
    req: IncomingMessage;
    client: Duplex;
    head: Buffer;
    rest: string;
    search: string;
  },
): Promise<void> {
  const { access, req, client } = opts;
  const { connection } = access;
  const url = targetUrlOf(connection.target, opts.rest, opts.search);
  const destination = connection.target.mode === 'browser' ? await deps.guard.destination(url) : undefined;
  const jar = await loadJar(deps, connection.id);
  const answer = await requestUpstream({
    url,
    method: 'GET',
    headers: upstreamRequestHeaders({ incoming: req.headers, access, target: url, jar, websocket: true }),
    destination,
    verifyTls: connection.target.verifyTls,
    timeoutMs: deps.limits.timeoutMs,
  });
  if (answer.kind !== 'upgrade') {
    answer.response.resume();
    throw new AppError('BAD_GATEWAY', `${url.host} refused the WebSocket (${answer.response.statusCode})`);
  }
  const { response, socket: upstream, head } = answer;
  const setCookies = response.headers['set-cookie'];
  if (setCookies) {
    await storeCookies(deps, {
      connectionId: connection.id,
      userId: connection.userId,
      url,
      setCookies,
    }).catch(() => {});
  }
  if (client.destroyed) {
    upstream.destroy();
    return;
  }
  client.write(switchingProtocols(response.headers));
  if (head.length > 0) client.write(head);
  if (opts.head.length > 0) upstream.write(opts.head);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  for (const side of [client, upstream] as const) {
    side.on('error', end);
    side.on('close', end);
  }
  const idle = deps.limits.idleMs;
  upstream.setTimeout(idle, end);
  (client as Socket).setTimeout?.(idle, end);
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
}
