import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forkEntry, median, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';
import { seedUsersWithSessions } from './lib/seed';

// Screen frames per second delivered to the viewers of one room: a real Chromium renders an
// animated page (served here), its screencast goes through the room hub to 20 /ws/portal viewers
// held by a separate process. The baseline is the same room with one viewer in the same run: the
// rate Chromium's screencast produces under SCREEN_MAX_FPS, so the ratio says how much of the
// source rate each of 20 viewers still gets.
const VIEWERS = 20;
const ROUNDS = isQuick ? 1 : 3;
const warmupMs = isQuick ? 500 : 3_000;
const measureMs = isQuick ? 1_500 : 15_000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const PAGE = `<!doctype html><body style="margin:0"><canvas id="c" width="1280" height="720"></canvas><script>
const g = c.getContext('2d'); let f = 0;
(function draw() { g.fillStyle = 'hsl(' + (f * 3 % 360) + ',80%,50%)'; g.fillRect(0, 0, 1280, 720);
  g.fillStyle = '#fff'; g.font = '120px sans-serif'; g.fillText(String(f++), 100 + (f * 7 % 800), 400);
  requestAnimationFrame(draw); })();
</script></body>`;

type Counted = { frames: number[]; bytes: number; seconds: number };

function watch(urls: string[], roomId: number): Promise<Counted> {
  const child = forkEntry('bench/lib/screen-viewers.ts');
  return new Promise((resolve, reject) => {
    child.once('message', (m: Counted) => resolve(m));
    child.once('exit', (code) => code !== 0 && reject(new Error(`viewers exited with ${code}`)));
    child.send({ type: 'watch', urls, roomId, warmupMs, measureMs });
  });
}

async function post(base: string, token: string, path: string, body: unknown = {}) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

const page = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
await new Promise<void>((ok) => page.listen(0, '127.0.0.1', ok));
const pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
const dataDir = mkdtempSync(join(tmpdir(), 'portal-bench-screen-'));
try {
  // The first seeded user owns the room: an Admin has chat slots.
  const tokens = await seedUsersWithSessions(dataDir, VIEWERS + 1, 1);

  const portal = await startProcess('src/main.ts', {
    DATA_DIR: dataDir,
    CHROMIUM_PATH: CHROMIUM,
    BROWSER_ALLOW_PRIVATE: 'true',
    SCREEN_MAX_FPS: '30',
    RATE_LIMIT_AUTH: '100000',
  });
  try {
    const [ownerToken, ...viewerTokens] = tokens as [string, ...string[]];
    const room = await post(portal.url, ownerToken, '/chats', {
      name: 'bench',
      config: { start_url: pageUrl, width: 1280, height: 720, max_members: 100 },
    });
    const id = Number(room.id);
    const invite = await post(portal.url, ownerToken, `/chats/${id}/invites`);
    await Promise.all(viewerTokens.map((token) => post(portal.url, token, `/chats/join/${invite.code}`)));
    await post(portal.url, ownerToken, `/chats/${id}/start`);
    const wsPort = Number(portal.ready.ws_port) || new URL(portal.url).port;
    const urlOf = (token: string) => `ws://127.0.0.1:${wsPort}/ws/portal?token=${token}`;

    // A discarded warm-up round (Chromium's first seconds are slower; a quick run skips it), then
    // alternating rounds.
    if (!isQuick) await watch([urlOf(viewerTokens[0]!)], id);
    const sources: number[] = [];
    const means: number[] = [];
    const mins: number[] = [];
    const bytesPerSecond: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const single = await watch([urlOf(viewerTokens[0]!)], id);
      sources.push(single.frames[0]! / single.seconds);
      const many = await watch(viewerTokens.slice(0, VIEWERS).map(urlOf), id);
      const perViewer = many.frames.map((f) => f / many.seconds);
      means.push(perViewer.reduce((a, b) => a + b, 0) / perViewer.length);
      mins.push(Math.min(...perViewer));
      bytesPerSecond.push(many.bytes / many.seconds);
    }
    const sourceFps = median(sources);
    const meanViewer = median(means);
    const minViewer = median(mins);
    report('room.screen', [
      {
        name: `frames/s per viewer, ${VIEWERS} viewers of one room (mean)`,
        value: meanViewer,
        unit: 'fps',
        baseline: { name: 'one viewer (the screencast source rate)', value: sourceFps },
      },
      {
        name: `frames/s of the slowest of ${VIEWERS} viewers`,
        value: minViewer,
        unit: 'fps',
        baseline: { name: 'one viewer (the screencast source rate)', value: sourceFps },
      },
      {
        name: `screen bytes/s delivered to ${VIEWERS} viewers`,
        value: median(bytesPerSecond),
        unit: 'B/s',
      },
    ]);
  } finally {
    await portal.stop();
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
  page.close();
}
