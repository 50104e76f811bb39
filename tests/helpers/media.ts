import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { basename, join } from 'node:path';

// Real media peers for stream tests: an ffmpeg test stream written as HLS into a directory and
// served over HTTP in MediaMTX's layout (`/<path>/index.m3u8`, standing in for its HLS server),
// and an ffmpeg RTMP server that records what a relay pushes to it.

export const FFMPEG = process.env.FFMPEG_PATH || 'ffmpeg';

/** Null when ffmpeg runs, else why the media tests skip. */
export function ffmpegMissing(): string | null {
  const probe = spawnSync(FFMPEG, ['-version'], { stdio: 'ignore' });
  return probe.status === 0 ? null : `ffmpeg not found (${FFMPEG}): media tests skipped`;
}

export async function freePort(): Promise<number> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function stopProcess(proc: ChildProcess) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  const exited = once(proc, 'exit');
  proc.kill('SIGKILL');
  return exited.then(() => {});
}

export type HlsOrigin = { url: string; requests: string[]; close(): Promise<void> };

/** A live test stream (testsrc + sine, H.264/AAC, 1 s keyframes) as HLS in `dir`, served over HTTP. */
export async function startHlsOrigin(dir: string): Promise<HlsOrigin> {
  const encoder = spawn(
    FFMPEG,
    [
      ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-re'],
      ...['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'],
      ...[
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-tune',
        'zerolatency',
        '-g',
        '25',
        '-pix_fmt',
        'yuv420p',
      ],
      ...['-c:a', 'aac', '-b:a', '64k'],
      ...['-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_flags', 'delete_segments'],
      join(dir, 'index.m3u8'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const requests: string[] = [];
  // Any path prefix maps to the one stream: MediaMTX serves `/<path>/<file>`.
  const server: Server = createServer((req, res) => {
    const file = join(dir, basename(new URL(req.url ?? '/', 'http://x').pathname));
    requests.push(req.url ?? '');
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': file.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
      'content-length': statSync(file).size,
    });
    createReadStream(file).pipe(res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      await stopProcess(encoder);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export type RtmpSink = { url: string; key: string; file: string; bytes(): number; close(): Promise<void> };

/** `ffmpeg -listen 1` as an RTMP server on `rtmp://127.0.0.1:<port>/live/<key>`, recording to `file`. */
export async function startRtmpSink(file: string, key = 'relay-dest-key', port?: number): Promise<RtmpSink> {
  port ??= await freePort();
  const url = `rtmp://127.0.0.1:${port}/live`;
  const proc = spawn(
    FFMPEG,
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-listen',
      '1',
      '-f',
      'flv',
      '-i',
      `${url}/${key}`,
      '-c',
      'copy',
      '-f',
      'flv',
      file,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return {
    url,
    key,
    file,
    bytes: () => (existsSync(file) ? statSync(file).size : 0),
    close: () => stopProcess(proc),
  };
}
