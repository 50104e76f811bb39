import ssh2 from 'ssh2';
import { WebSocket } from 'ws';

// A child process that measures terminal round trips (a keystroke in, its echo out), one at a time,
// either through Portal's SSH relay (terminal JSON protocol) or straight to the ssh2 server.
//   parent → {type:"run", mode:"relay", url, count} | {type:"run", mode:"direct", port, user, password, count}
//   child  → {type:"done", samples: number[]}   (milliseconds)
type Run = {
  type: 'run';
  mode: 'relay' | 'direct';
  url?: string;
  port?: number;
  user?: string;
  password?: string;
  count: number;
};

async function measure(
  send: (s: string) => void,
  onEcho: (cb: (text: string) => void) => void,
  count: number,
) {
  const samples: number[] = [];
  let waiting: ((text: string) => void) | null = null;
  onEcho((text) => waiting?.(text));
  for (let i = 0; i < count; i++) {
    const tag = `<${i}>`;
    let seen = '';
    const started = performance.now();
    await new Promise<void>((resolve) => {
      waiting = (text) => {
        seen += text;
        if (seen.includes(tag)) resolve();
      };
      send(tag);
    });
    samples.push(performance.now() - started);
  }
  return samples;
}

process.on('message', async (cmd: Run) => {
  if (cmd.type !== 'run') return;
  let samples: number[];
  if (cmd.mode === 'relay') {
    const ws = new WebSocket(cmd.url!, { perMessageDeflate: false });
    const welcome = new Promise<void>((resolve) =>
      ws.on('message', (d: Buffer) => {
        if (d.toString().includes('welcome')) resolve();
      }),
    );
    await welcome;
    samples = await measure(
      (s) => ws.send(JSON.stringify({ type: 'input', data: s })),
      (cb) => ws.on('message', (d: Buffer) => cb((JSON.parse(d.toString()) as { data?: string }).data ?? '')),
      cmd.count,
    );
    ws.terminate();
  } else {
    const client = new ssh2.Client();
    await new Promise<void>((resolve) => {
      client.once('ready', () => resolve());
      client.connect({ host: '127.0.0.1', port: cmd.port!, username: cmd.user!, password: cmd.password! });
    });
    const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.shell({ term: 'xterm' }, (err, s) => (err ? reject(err) : resolve(s))),
    );
    samples = await measure(
      (s) => stream.write(s),
      (cb) => stream.on('data', (d: Buffer) => cb(d.toString())),
      cmd.count,
    );
    client.end();
  }
  process.send?.({ type: 'done', samples });
});
