import { WebSocket } from 'ws';

// A child process that plays chat clients for bench/chat-fanout.bench.ts, so the load generator
// never shares a process with the server. Every socket joins the channel (Portal) or is
// subscribed on connect (bare baselines). Senders run closed-loop: each keeps `window` messages in
// flight and sends the next when its own message comes back, so the offered load follows what the
// server can deliver. A message's text is `<sent at, ms, fractional>~<sender>~`; receivers record
// (now − sent at) in a 0.05 ms histogram. Driven over IPC:
//   parent → {type:"open", urls, mode, senders} ; child → {type:"opened", opened, failed}
//   parent → {type:"start", window} ; {type:"reset"} ; {type:"stop"} → child → {type:"stats", ...}
//   parent → {type:"close"}
type Mode = 'portal' | 'bare';
type Command =
  | { type: 'open'; urls: string[]; mode: Mode; senders: boolean; channel?: string }
  | { type: 'start'; window: number }
  | { type: 'reset' }
  | { type: 'stop' }
  | { type: 'close' };

const BUCKET_MS = 0.05;
const BUCKETS = 200_000; // 10 s
const now = () => performance.timeOrigin + performance.now();

const sockets: { ws: WebSocket; index: number }[] = [];
let mode: Mode = 'bare';
let channel = 'general';
let isSender = false;
let running = false;
let sent = 0;
let count = 0;
let hist = new Uint32Array(BUCKETS + 1);

function textOf(data: Buffer): number | undefined {
  const s = data.toString();
  if (mode === 'bare') return Number.parseFloat(s);
  if (!s.includes('"type":"message"')) return undefined;
  const at = s.indexOf('"message":"');
  return at < 0 ? undefined : Number.parseFloat(s.slice(at + 11, at + 40));
}

function send(ws: WebSocket, index: number) {
  const text = `${now().toFixed(3)}~${index}~`;
  ws.send(mode === 'bare' ? `pub:${text}` : JSON.stringify({ type: 'message', channel, message: text }));
  sent++;
}

function openOne(url: string, index: number): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    const tag = `~${index}~`;
    ws.on('message', (data: Buffer) => {
      const s = data.toString();
      if (mode === 'portal' && s.includes('"type":"users"')) resolve(true);
      if (isSender) {
        if (running && s.includes(tag)) send(ws, index);
        return;
      }
      const at = textOf(data);
      if (at === undefined || Number.isNaN(at)) return;
      count++;
      hist[Math.min(BUCKETS, Math.max(0, Math.floor((now() - at) / BUCKET_MS)))]!++;
    });
    ws.once('open', () => {
      sockets.push({ ws, index });
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
    isSender = cmd.senders;
    channel = cmd.channel ?? channel;
    void openAll(cmd.urls);
  } else if (cmd.type === 'start') {
    running = true;
    if (isSender) for (const { ws, index } of sockets) for (let k = 0; k < cmd.window; k++) send(ws, index);
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
    for (const { ws } of sockets) ws.terminate();
    process.exit(0);
  }
});
