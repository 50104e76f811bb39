import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { WebSocketServer } from 'ws';
import { makeTempDir, removeDir } from './env';
import { selfSignedCertificate } from './https-receiver';

// A real web backend for the proxy tests (HTTP, or HTTPS with a self-signed certificate): pages
// with every kind of link, redirects, cookies, a streamed large body, request echo, and a
// WebSocket echo. Every request is recorded, so tests can see what reached the backend.

export type SeenRequest = { method: string; url: string; headers: IncomingMessage['headers']; body: string };

export type WebBackend = {
  port: number;
  /** `http://127.0.0.1:<port>` (or https). */
  origin: string;
  seen: SeenRequest[];
  /** Finished /big responses: bytes written, and whether all of them were. */
  bigResponses(): Array<{ written: number; completed: boolean }>;
  close(): Promise<void>;
};

export const BIG_BYTES = 64 * 1024 * 1024;

export const PAGE = (port: number) => `<!doctype html>
<html><head><title>Backend page</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'">
<meta http-equiv="refresh" content="600; url=/refreshed">
<link rel="stylesheet" href="/style.css" integrity="sha384-x">
<style>body { background: url('/bg.png') }</style>
</head><body>
<a id="root" href="/a?x=1#frag">root-relative</a>
<a id="rel" href="b/c.html">relative</a>
<a id="abs" href="http://127.0.0.1:${port}/abs">absolute same origin</a>
<a id="other" href="https://other.example/x">other site</a>
<a id="frag" href="#top">fragment</a>
<a id="js" href="javascript:void(0)">script</a>
<a id="top" href="/t" target="_top">top</a>
<img id="img" src="//127.0.0.1:${port}/img.png" srcset="/s1.png 1x, /s2.png 2x">
<div id="styled" style="background-image: url(&quot;/inline.png&quot;)"></div>
<form id="form" action="/submit" method="post"><input name="q"></form>
<script>window.marker = '<a href="/not-rewritten">';</script>
</body></html>`;

function collect(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export async function startWebBackend(opts: { tls?: boolean } = {}): Promise<WebBackend> {
  const seen: SeenRequest[] = [];
  const bigResponses: Array<{ written: number; completed: boolean }> = [];
  let port = 0;
  const dir = opts.tls ? makeTempDir('portal-web-backend-') : undefined;

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await collect(req);
    seen.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body });
    const url = new URL(req.url ?? '/', 'http://backend');
    switch (url.pathname) {
      case '/':
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': "default-src 'none'",
          'x-frame-options': 'DENY',
          'strict-transport-security': 'max-age=99',
          'cache-control': 'public, max-age=60',
        });
        return res.end(PAGE(port));
      case '/app':
        // A page whose script builds URLs at run time: the proxy runtime must catch them.
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(`<!doctype html><html><head><title>App</title></head><body>
<p id="fetch">…</p><p id="xhr">…</p><p id="ws">…</p><p id="storage">…</p>
<script>
fetch('/whoami').then((r) => r.text()).then((t) => { document.getElementById('fetch').textContent = t; });
const x = new XMLHttpRequest(); x.open('GET', 'http://127.0.0.1:${port}/path/xhr');
x.onload = () => { document.getElementById('xhr').textContent = x.responseText; }; x.send();
const ws = new WebSocket('ws://127.0.0.1:${port}/ws-app');
ws.onmessage = (e) => { document.getElementById('ws').textContent = e.data; ws.close(); };
localStorage.setItem('k', 'kept'); document.getElementById('storage').textContent = localStorage.getItem('k');
</script></body></html>`);
      case '/style.css':
        res.writeHead(200, { 'content-type': 'text/css' });
        return res.end(
          `@import "/more.css";\nbody { background: url(/bg.png) }\n.x { background: url("https://other.example/y.png") }\n`,
        );
      case '/headers':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(req.headers));
      case '/echo':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ method: req.method, length: body.length, body }));
      case '/login':
        res.writeHead(302, {
          location: '/whoami',
          'set-cookie': ['sid=s3cr3t-session; Path=/; HttpOnly', `theme=dark; Path=/; Max-Age=3600`],
        });
        return res.end();
      case '/whoami':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(`cookie=${req.headers.cookie ?? ''}`);
      case '/redirect':
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
        return res.end();
      case '/gzip.html':
      case '/gzip.txt': {
        const html = url.pathname.endsWith('.html');
        const text = html ? '<p><a href="/zipped">zipped</a></p>' : 'plain zipped text';
        const type = html ? 'text/html' : 'text/plain';
        if (!/gzip/.test(String(req.headers['accept-encoding']))) {
          res.writeHead(200, { 'content-type': type });
          return res.end(text);
        }
        res.writeHead(200, { 'content-type': type, 'content-encoding': 'gzip' });
        return res.end(gzipSync(text));
      }
      case '/missing':
        res.writeHead(404, { 'content-type': 'text/html' });
        return res.end('<p>backend says not found</p>');
      case '/big': {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(BIG_BYTES),
        });
        const chunk = Buffer.alloc(64 * 1024, 7);
        let written = 0;
        const write = () => {
          while (written < BIG_BYTES) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', write);
          }
          res.end();
        };
        res.on('close', () => {
          res.removeAllListeners('drain');
          bigResponses.push({ written, completed: res.writableFinished });
        });
        return write();
      }
      case '/reset.html':
      case '/reset.bin':
        // Headers and half a body, then the connection dies.
        res.writeHead(200, {
          'content-type': url.pathname.endsWith('.html') ? 'text/html' : 'application/octet-stream',
          'content-length': '100000',
        });
        res.write('<p>partial');
        return void setTimeout(() => res.socket?.destroy(), 50);
      case '/hang':
        return; // never answers
      default:
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(`path=${url.pathname}`);
    }
  };

  const server = dir
    ? (() => {
        const { keyFile, certFile } = selfSignedCertificate(dir, ['DNS:localhost', 'IP:127.0.0.1']);
        return https.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, handler);
      })()
    : http.createServer(handler);
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    seen.push({ method: 'UPGRADE', url: req.url ?? '/', headers: req.headers, body: '' });
    if (!req.url?.startsWith('/ws')) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ hello: req.url, cookie: req.headers.cookie ?? null }));
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `${dir ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    bigResponses: () => bigResponses,
    close: () =>
      new Promise<void>((ok) => {
        for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        server.close(() => {
          if (dir) removeDir(dir);
          ok();
        });
      }),
  };
}
