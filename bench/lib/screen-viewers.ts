import { WebSocket } from 'ws';

// A child process that plays a room's viewers: each URL is one /ws/portal socket that joins the
// room with the screen on and counts the binary (JPEG) frames it receives. Driven over IPC:
//   parent → {type:"watch", urls, roomId, warmupMs, measureMs}
//   child  → {type:"counted", frames:[per socket], bytes, seconds}, then exits.
type Command = { type: 'watch'; urls: string[]; roomId: number; warmupMs: number; measureMs: number };

function joinRoom(
  url: string,
  roomId: number,
): Promise<{ ws: WebSocket; frames: () => number; bytes: () => number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let frames = 0;
    let bytes = 0;
    let counting = false;
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        if (counting) {
          frames++;
          bytes += data.length;
        }
        return;
      }
      const message = JSON.parse(data.toString()) as { type: string };
      if (message.type === 'ready') ws.send(JSON.stringify({ type: 'join_room', room_id: roomId }));
      if (message.type === 'room_joined') {
        counting = true;
        resolve({
          ws,
          frames: () => frames,
          bytes: () => bytes,
        });
      }
      if (message.type === 'error') reject(new Error(JSON.stringify(message)));
    });
    ws.once('error', reject);
  });
}

process.on('message', async (cmd: Command) => {
  if (cmd.type !== 'watch') return;
  const viewers = await Promise.all(cmd.urls.map((url) => joinRoom(url, cmd.roomId)));
  await new Promise((r) => setTimeout(r, cmd.warmupMs));
  const startFrames = viewers.map((v) => v.frames());
  const startBytes = viewers.reduce((n, v) => n + v.bytes(), 0);
  const started = performance.now();
  await new Promise((r) => setTimeout(r, cmd.measureMs));
  const seconds = (performance.now() - started) / 1000;
  const frames = viewers.map((v, i) => v.frames() - startFrames[i]!);
  const bytes = viewers.reduce((n, v) => n + v.bytes(), 0) - startBytes;
  for (const v of viewers) v.ws.terminate();
  process.send?.({ type: 'counted', frames, bytes, seconds }, () => process.exit(0));
});
