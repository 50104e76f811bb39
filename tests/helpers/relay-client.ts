import WebSocket from 'ws';

// A WebSocket client for the relay routes: collects JSON text frames and binary frames, and turns a
// refused upgrade into its HTTP status and contract error body.

export type Message = Record<string, unknown> & { type: string };
export type Closed = { code: number; reason: string };

export type RelayClient = {
  ws: WebSocket;
  messages: Message[];
  binary: Buffer[];
  closed: Promise<Closed>;
  send(message: unknown): void;
  received(): number;
  /** Waits until a JSON message matches. */
  waitFor(match: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
  /** Waits until the concatenated terminal output contains `text` (or matches it). */
  output(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Waits until at least `bytes` binary bytes arrived. */
  bytes(bytes: number, timeoutMs?: number): Promise<Buffer>;
};

export async function waitUntil(check: () => boolean, what: string | (() => string), timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function openRelay(
  url: string,
  opts: { headers?: Record<string, string>; track?: Set<WebSocket> } = {},
): Promise<RelayClient> {
  const ws = new WebSocket(url, { headers: opts.headers ?? {} });
  opts.track?.add(ws);
  const messages: Message[] = [];
  const binary: Buffer[] = [];
  ws.on('error', () => {});
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) binary.push(Buffer.from(data));
    else messages.push(JSON.parse(data.toString()) as Message);
  });
  const closed = new Promise<Closed>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const allOutput = () =>
    messages
      .filter((m) => m.type === 'output')
      .map((m) => m.data)
      .join('');
  const received = () => binary.reduce((n, b) => n + b.length, 0);
  const client: RelayClient = {
    ws,
    messages,
    binary,
    closed,
    received,
    send: (m) => ws.send(typeof m === 'string' || Buffer.isBuffer(m) ? m : JSON.stringify(m)),
    async waitFor(match, timeoutMs = 5000) {
      await waitUntil(
        () => messages.some(match),
        () => `a message; got ${JSON.stringify(messages)}`,
        timeoutMs,
      );
      return messages.find(match) as Message;
    },
    async output(text, timeoutMs = 5000) {
      const has = () => (typeof text === 'string' ? allOutput().includes(text) : text.test(allOutput()));
      await waitUntil(has, () => `output ${text}; got ${JSON.stringify(allOutput())}`, timeoutMs);
      return allOutput();
    },
    async bytes(n, timeoutMs = 5000) {
      await waitUntil(() => received() >= n, `${n} bytes`, timeoutMs);
      return Buffer.concat(binary);
    },
  };
  return new Promise((resolve, reject) => {
    let refused = false;
    ws.once('open', () => resolve(client));
    // A connection lost before `open` fails the wait at once instead of leaving it hanging.
    ws.once('close', () => {
      if (!refused) reject(new Error('closed before open'));
    });
    ws.once('unexpected-response', (req, res) => {
      refused = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        req.destroy();
        reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, body }));
      });
    });
  });
}

/** The HTTP status and error body of a refused upgrade (throws if it was accepted). */
export async function relayRefusal(url: string) {
  try {
    const client = await openRelay(url);
    client.ws.terminate();
  } catch (err) {
    const { status, body } = err as { status?: number; body?: string };
    if (status === undefined) throw err;
    return { status, body: JSON.parse(body ?? '{}') as Record<string, unknown> };
  }
  throw new Error('upgrade was accepted');
}
