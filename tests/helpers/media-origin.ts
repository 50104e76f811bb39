import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { makeTempDir, removeDir } from './env';

// A stand-in for MediaMTX's HLS and WebRTC servers, made of real parts: ffmpeg encodes a test
// picture (`-f lavfi testsrc`) to HLS in a temp dir, and a small HTTP server serves that dir the
// way MediaMTX does (`/<path>/index.m3u8`, segments next to it) and answers WHEP/WHIP offers with
// an SDP answer and a session Location, as MediaMTX's WebRTC server does. Every request is
// recorded with its Authorization header, so tests can check what Portal sent.

export const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';

/** Why media tests are skipped here, or undefined when ffmpeg runs. */
export function ffmpegSkipReason(): string | undefined {
  const probe = spawnSync(FFMPEG, ['-hide_banner', '-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0)
    return `no ffmpeg at ${FFMPEG} (apt-get install ffmpeg, or set FFMPEG_PATH)`;
  return undefined;
}

export type OriginRequest = { method: string; path: string; authorization: string | undefined; body: string };

export type MediaOrigin = {
  url: string;
  requests: OriginRequest[];
  /** Starts ffmpeg publishing HLS at `/<path>/index.m3u8`; resolves once two segments exist. */
  publish(path: string): Promise<void>;
  unpublish(path: string): Promise<void>;
  close(): Promise<void>;
};

const readBody = async (req: IncomingMessage) => {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
};

export async function startMediaOrigin(): Promise<MediaOrigin> {
  const root = makeTempDir('portal-hls-');
  const encoders = new Map<string, ChildProcess>();
  const requests: OriginRequest[] = [];

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const body = req.method === 'GET' ? '' : await readBody(req);
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      authorization: req.headers.authorization,
      body,
    });
    const webrtc = /^\/(.+)\/(whep|whip)(?:\/([A-Za-z0-9-]+))?$/.exec(url.pathname);
    if (webrtc) {
      const [, path, kind, session] = webrtc;
      if (req.method === 'POST' && !session) {
        const id = randomUUID();
        res.writeHead(201, {
          'content-type': 'application/sdp',
          location: `/${path}/${kind}/${id}`,
          etag: '"origin-etag"',
          link: '<stun:stun.example.org:3478>; rel="ice-server"',
        });
        return void res.end('v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=answer\r\n');
      }
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { link: '<stun:stun.example.org:3478>; rel="ice-server"' });
        return void res.end();
      }
      res.writeHead(req.method === 'DELETE' ? 200 : 204);
      return void res.end();
    }
    const file = normalize(join(root, decodeURIComponent(url.pathname)));
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404);
      return void res.end('not found');
    }
    const type = file.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t';
    res.writeHead(200, {
      'content-type': type,
      'content-length': statSync(file).size,
      'cache-control': 'no-cache',
    });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const stop = (proc: ChildProcess) =>
    new Promise<void>((ok) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return ok();
      proc.once('exit', () => ok());
      proc.kill('SIGKILL');
    });

  return {
    url,
    requests,
    async publish(path) {
      const dir = join(root, path);
      mkdirSync(dir, { recursive: true });
      const proc = spawn(
        FFMPEG,
        [
          ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-re'],
          ...['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10'],
          ...[
            '-c:v',
            'libx264',
            '-preset',
            'ultrafast',
            '-tune',
            'zerolatency',
            '-g',
            '10',
            '-pix_fmt',
            'yuv420p',
          ],
          ...['-f', 'hls', '-hls_time', '1', '-hls_list_size', '6', '-hls_flags', 'delete_segments'],
          join(dir, 'index.m3u8'),
        ],
        { stdio: 'ignore' },
      );
      encoders.set(path, proc);
      const deadline = Date.now() + 60_000;
      while (
        readdirSync(dir).filter((f) => f.endsWith('.ts')).length < 2 ||
        !existsSync(join(dir, 'index.m3u8'))
      ) {
        if (proc.exitCode !== null) throw new Error(`ffmpeg exited with ${proc.exitCode}`);
        if (Date.now() > deadline) throw new Error('ffmpeg wrote no HLS segments within 60 s');
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async unpublish(path) {
      const proc = encoders.get(path);
      encoders.delete(path);
      if (proc) await stop(proc);
    },
    async close() {
      await Promise.all([...encoders.values()].map(stop));
      encoders.clear();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      removeDir(root);
    },
  };
}
