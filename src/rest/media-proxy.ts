import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { AppError } from '../core/errors';

// Streams one request to MediaMTX and its answer back, byte for byte: a segment is never held
// whole in memory, and a viewer who goes away closes the upstream request at once. Upstream
// failures become the contract's errors; only the headers a player needs are passed on.

export type UpstreamCall = {
  url: URL;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'OPTIONS';
  /** Portal's own MediaMTX credentials. */
  authorization: string;
  /** Request headers passed on as they came (If-Match, Content-Type of SDP bodies, …). */
  headers?: Record<string, string>;
  body?: Buffer;
  /** Response headers passed back. */
  passHeaders: readonly string[];
  /** Rewrites a Location header (WHEP/WHIP session resources) to Portal's own path. */
  rewriteLocation?: (location: string) => string | undefined;
  /** Time for MediaMTX to start answering (LL-HLS holds playlist requests until a part exists). */
  headersTimeoutMs?: number;
};

const send = (url: URL, options: object) =>
  url.protocol === 'https:' ? httpsRequest(url, options) : httpRequest(url, options);

function upstreamError(res: IncomingMessage): AppError {
  const status = res.statusCode ?? 502;
  if (status === 404) return new AppError('NOT_FOUND', 'Not found');
  if (status === 400 || status === 406 || status === 415)
    return new AppError('BAD_REQUEST', 'The media server refused the request');
  if (status === 409) return new AppError('CONFLICT', 'The stream is already being published');
  return new AppError('BAD_GATEWAY', 'The media server did not answer properly');
}

/** Opens the upstream request; resolves with its response once headers arrived. */
function open(call: UpstreamCall, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const upstream = send(call.url, {
      method: call.method,
      headers: {
        authorization: call.authorization,
        ...(call.body && { 'content-length': String(call.body.length) }),
        ...call.headers,
      },
      signal,
    });
    const timer = setTimeout(
      () => upstream.destroy(new Error('media server timed out')),
      call.headersTimeoutMs ?? 20_000,
    );
    upstream.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    upstream.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    upstream.end(call.body);
  });
}

/**
 * Proxies `call` for `req`/`res`. Throws AppError before anything was sent (the caller answers it
 * in the contract's shape); once the answer streams, a failure can only cut it short.
 */
export async function proxyMedia(req: Request, res: Response, call: UpstreamCall): Promise<void> {
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  let upstream: IncomingMessage;
  try {
    upstream = await open(call, abort.signal);
  } catch (err) {
    res.off('close', onClose);
    if (abort.signal.aborted) return;
    throw new AppError('BAD_GATEWAY', 'The media server is not reachable', {}, err);
  }
  const status = upstream.statusCode ?? 502;
  if (status >= 400) {
    upstream.resume();
    res.off('close', onClose);
    throw upstreamError(upstream);
  }
  res.status(status);
  for (const name of call.passHeaders) {
    const value = upstream.headers[name];
    if (value !== undefined) res.setHeader(name, value);
  }
  const location = upstream.headers.location;
  if (location && call.rewriteLocation) {
    const rewritten = call.rewriteLocation(location);
    if (rewritten) res.setHeader('Location', rewritten);
  }
  if (req.method === 'HEAD') {
    upstream.resume();
    res.end();
    return;
  }
  try {
    await pipeline(upstream, res);
  } catch {
    // The viewer left or MediaMTX cut the stream: nothing to answer any more.
    if (!res.destroyed) res.destroy();
  } finally {
    res.off('close', onClose);
  }
}

/** A request body of at most `maxBytes` (SDP offers, ICE fragments), or 413. */
export async function readSmallBody(req: Request, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw new AppError('PAYLOAD_TOO_LARGE');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new AppError('PAYLOAD_TOO_LARGE');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
