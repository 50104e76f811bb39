import { WebSocket } from 'ws';

// A child process that plays every chat client of one bench/chat-fanout.bench.ts run, so the load
// generator never shares a process with the server. Every socket joins the channel (Portal) or is
// subscribed on connect (bare baselines); the first `receivers` sockets only read, the others also
// send. The loop is closed over the whole fan-out: a sender keeps `window` messages in flight and
// sends the next one when every receiver has got its earlier one (or after MESSAGE_TIMEOUT_MS, so
// a dropped copy cannot stall the run). Offered load thus follows what the server delivers to all
// receivers, and no backlog builds up anywhere, for Portal and the bare servers alike. A message's
// text is `<sent at, ms, fractional>~<sender>~<seq>`; receivers record (now − sent at) in a
// 0.05 ms histogram. Driven over IPC:
//   parent → {type:"open", urls, receivers, mode} ; child → {type:"opened", opened, failed}
//   parent → {type:"start", window} ; {type:"reset"} ; {type:"stop"} → child → {type:"stats", ...}
//   parent → {type:"close"}
type Mode = 'portal' | 'bare';
type Command =
  | { type: 'open'; urls: string[]; receivers: number; mode: Mode; channel?: string }
  | { type: 'start'; window: number }
  | { type: 'reset' }
  | { type: 'stop' }
  | { type: 'close' };

const BUCKET_MS = 0.05;
const BUCKETS = 200_000; // 10 s
const MESSAGE_TIMEOUT_MS = 2000;
const now = () => performance.timeOrigin + performance.now();

type Sender = { ws: WebSocket; index: number; seq: number };
const sockets: WebSocket[] = [];
const senders: Sender[] = [];
let receiverCount = 0;
let mode: Mode = 'bare';
let channel = 'general';
let running = false;
let sent = 0;
let count = 0;
let hist = new Uint32Array(BUCKETS + 1);
/** Messages in flight: `<sender>~<seq>` → receivers that have not got it yet, and its deadline. */
const inFlight = new Map<string, { left: number; timer: NodeJS.Timeout; sender: Sender }>();

function send(sender: Sender) {
  const key = `${sender.index}~${++sender.seq}`;
  const text = `${now().toFixed(3)}~${key}`;
  const timer = setTimeout(() => settle(key), MESSAGE_TIMEOUT_MS);
  inFlight.set(key, { left: receiverCount, timer, sender });
  sender.ws.send(
    mode === 'bare' ? `pub:${text}` : JSON.stringify({ type: 'message', channel, message: text }),
  );
  sent++;
}

/** Every receiver has the message (or it timed out): its sender may send the next. */
function settle(key: string) {
  const entry = inFlight.get(key);
  if (!entry) return;
  clearTimeout(entry.timer);
  inFlight.delete(key);
  if (running) send(entry.sender);
}

/** `<sent at>~<sender>~<seq>` from a frame, or undefined for other frames. */
function textOf(data: Buffer): string | undefined {
  const s = data.toString();
  if (mode === 'bare') return s;
  if (!s.includes('"type":"message"')) return undefined;
  const at = s.indexOf('"message":"');
  if (at < 0) return undefined;
  const end = s.indexOf('"', at + 11);
  return s.slice(at + 11, end);
}

function received(text: string) {
  const first = text.indexOf('~');
  if (first < 0) return;
  const sentAt = Number.parseFloat(text.slice(0, first));
  count++;
  hist[Math.min(BUCKETS, Math.max(0, Math.floor((now() - sentAt) / BUCKET_MS)))]!++;
  const key = text.slice(first + 1);
  const entry = inFlight.get(key);
  if (entry && --entry.left <= 0) settle(key);
}

function openOne(url: string, index: number): Promise<boolean> {
  const isReceiver = index < receiverCount;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    ws.on('message', (data: Buffer) => {
      if (mode === 'portal' && data.includes('"type":"users"')) resolve(true);
      if (!isReceiver) return;
      const text = textOf(data);
      if (text !== undefined) received(text);
    });
    ws.once('open', () => {
      sockets.push(ws);
      if (!isReceiver) senders.push({ ws, index, seq: 0 });
      if (mode === 'portal') ws.send(JSON.stringify({ type: 'join', channel }));
      else resolve(true);
    });
    ws.once('error', () => resolve(false));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(false);
    });
  });
}

async function openAll(urls: string[]) {
  let next = 0;
  let opened = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: Math.min(100, urls.length) }, async () => {
      while (next < urls.length) {
        const i = next++;
        if (await openOne(urls[i]!, i)) opened++;
        else failed++;
      }
    }),
  );
  process.send?.({ type: 'opened', opened, failed });
}

process.on('message', (cmd: Command) => {
  if (cmd.type === 'open') {
    mode = cmd.mode;
    receiverCount = cmd.receivers;
    channel = cmd.channel ?? channel;
    void openAll(cmd.urls);
  } else if (cmd.type === 'start') {
    running = true;
    for (const sender of senders) for (let k = 0; k < cmd.window; k++) send(sender);
  } else if (cmd.type === 'reset') {
    sent = 0;
    count = 0;
    hist = new Uint32Array(BUCKETS + 1);
  } else if (cmd.type === 'stop') {
    running = false;
    const buckets: [number, number][] = [];
    hist.forEach((c, b) => {
      if (c) buckets.push([b, c]);
    });
    process.send?.({ type: 'stats', sent, count, buckets, bucketMs: BUCKET_MS });
  } else if (cmd.type === 'close') {
    for (const entry of inFlight.values()) clearTimeout(entry.timer);
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
