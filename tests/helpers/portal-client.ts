import WebSocket from 'ws';

// A /ws/portal client as tests use it: JSON messages and binary frames (screen JPEGs) queued from
// the first byte, awaited one at a time, with the upgrade's HTTP refusal turned into an error.

export type Message = Record<string, unknown> & { type: string };
export type Closed = { code: number; reason: string };

export type PortalClient = {
  ws: WebSocket;
  /** The next JSON message (queued from the first byte), or a timeout error. */
  next(timeoutMs?: number): Promise<Message>;
  /** The next JSON message of `type`, skipping others. */
  nextOf(type: string, timeoutMs?: number): Promise<Message>;
  /** The next binary frame. */
  nextBinary(timeoutMs?: number): Promise<Buffer>;
  /** Binary frames received so far (and not yet taken by nextBinary). */
  binaryCount(): number;
  send(message: unknown): void;
  closed: Promise<Closed>;
  close(): Promise<Closed>;
};

const open_ = new Set<PortalClient>();

/**
 * How long a test waits for a message that should come. Generous: CI runs two suites' servers on
 * two cores, and a wait that expires there is a false failure, not a finding.
 */
const WAIT_MS = 15_000;

function queueOf<T>() {
  const items: T[] = [];
  const waiters: Array<(item: T) => void> = [];
  return {
    items,
    push(item: T) {
      const waiter = waiters.shift();
      if (waiter) waiter(item);
      else items.push(item);
    },
    take(timeoutMs: number, what: string): Promise<T> {
      if (items.length) return Promise.resolve(items.shift()!);
      return new Promise((resolve, reject) => {
        const waiter = (item: T) => {
          clearTimeout(timer);
          resolve(item);
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
  };
}

export function openPortal(url: string, headers: Record<string, string> = {}): Promise<PortalClient> {
  const ws = new WebSocket(url, { headers });
  const json = queueOf<Message>();
  const binary = queueOf<Buffer>();
  ws.on('error', () => {});
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) binary.push(data);
    else json.push(JSON.parse(data.toString()) as Message);
  });
  const closed = new Promise<Closed>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const client: PortalClient = {
    ws,
    next: (timeoutMs = WAIT_MS) => json.take(timeoutMs, 'message'),
    async nextOf(type, timeoutMs = WAIT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const message = await json.take(Math.max(1, deadline - Date.now()), `${type} message`);
        if (message.type === type) return message;
      }
    },
    nextBinary: (timeoutMs = WAIT_MS) => binary.take(timeoutMs, 'binary frame'),
    binaryCount: () => binary.items.length,
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
    closed,
    close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
      return closed;
    },
  };
  open_.add(client);
  void closed.then(() => open_.delete(client));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        req.destroy();
        reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, body: text }));
      });
    });
  });
}

/** Closes every client opened by this file's caller (use in afterEach). */
export async function closePortalClients() {
  await Promise.all([...open_].map((c) => c.close()));
}

export const portalUrl = (server: { url: string }, token?: string) =>
  `${server.url.replace('http', 'ws')}/ws/portal${token ? `?token=${encodeURIComponent(token)}` : ''}`;

export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
