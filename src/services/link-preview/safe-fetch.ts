import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { AppError } from '../../core/errors';
import type { HostResolver } from '../rooms/browser/network-guard';

// Fetches a page for a link preview without becoming a server-side request forgery tool: every
// host (the first and each redirect target) is resolved once and refused unless all its addresses
// are public (the browser's guard), then the socket connects to exactly the address that was
// checked, so a second DNS answer (rebinding) never gets a say. Time and bytes are bounded.

export const NOT_ALLOWED = 'This address is not allowed';
export const FETCH_FAILED = 'Could not fetch a preview for this URL';

export type FetchLimits = { timeoutMs: number; maxBytes: number; maxRedirects: number };

export type FetchedPage = {
  finalUrl: URL;
  status: number;
  contentType: string;
  /** At most `maxBytes` of the (decoded) body; longer bodies are cut there. */
  body: Buffer;
};

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'PortalLinkPreview/1.0 (+link previews for chat)';

const failed = (cause?: unknown) => new AppError('BAD_GATEWAY', FETCH_FAILED, {}, cause);

/** Refuses anything but http(s) on a public address; answers the address to connect to. */
async function checkTarget(url: URL, resolveHost: HostResolver) {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AppError('BAD_REQUEST', NOT_ALLOWED);
  if (url.username || url.password) throw new AppError('BAD_REQUEST', NOT_ALLOWED);
  const check = await resolveHost(url.hostname);
  if (!check.ok) {
    if (check.reason === 'private') throw new AppError('BAD_REQUEST', NOT_ALLOWED);
    throw failed();
  }
  return check;
}

/** A lookup that answers the checked address whatever name it is asked about. */
export const pinnedLookup =
  (address: string, family: 4 | 6): LookupFunction =>
  (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };

/** The body, decompressed; `pipeline` carries a failure (timeout, reset) through to the reader. */
export function decoded(res: http.IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined;
  return decoder ? pipeline(res, decoder, () => {}) : res;
}

/** DNS answers have their own, longer timeouts: the request's deadline bounds them too. */
function beforeDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(failed(signal.reason));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Reads at most `max` bytes, then stops the transfer: the <head> we want comes first. */
export async function readCapped(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    const room = max - size;
    chunks.push(room < buf.length ? buf.subarray(0, room) : buf);
    size += Math.min(room, buf.length);
    if (size >= max) break;
  }
  stream.destroy();
  return Buffer.concat(chunks, size);
}

function request(url: URL, address: string, family: 4 | 6, signal: AbortSignal) {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = client.request(url, {
      method: 'GET',
      agent: false,
      lookup: pinnedLookup(address, family),
      signal,
      headers: {
        'user-agent': USER_AGENT,
        accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1',
        'accept-encoding': 'gzip, deflate, br',
      },
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

/** GETs `url`, following at most `maxRedirects` redirects, each target checked like the first. */
export async function fetchPage(
  url: URL,
  resolveHost: HostResolver,
  limits: FetchLimits,
): Promise<FetchedPage> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let current = url;
  for (let hop = 0; ; hop++) {
    const target = await beforeDeadline(checkTarget(current, resolveHost), signal);
    let res: http.IncomingMessage;
    try {
      res = await request(current, target.address, target.family, signal);
    } catch (err) {
      throw failed(err);
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECTS.has(status) && location) {
      res.destroy();
      if (hop >= limits.maxRedirects) throw failed();
      try {
        current = new URL(location, current);
      } catch {
        throw failed();
      }
      continue;
    }
    const contentType = String(res.headers['content-type'] ?? '').toLowerCase();
    const isHtml = /^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/.test(contentType);
    if (status < 200 || status >= 300 || !isHtml) {
      res.destroy();
      if (status < 200 || status >= 300) throw failed();
      return { finalUrl: current, status, contentType, body: Buffer.alloc(0) };
    }
    try {
      const body = await readCapped(decoded(res), limits.maxBytes);
      return { finalUrl: current, status, contentType, body };
    } catch (err) {
      res.destroy();
      throw failed(err);
    }
  }
}
