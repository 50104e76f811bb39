import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, type Readable, Transform } from 'node:stream';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { decoded } from '../link-preview/safe-fetch';
import type { ProxyAccess } from './access';
import type { AddressGuard } from './address-guard';
import { loadJar, storeCookies } from './cookie-jar';
import { relayedResponseHeaders, upstreamRequestHeaders } from './headers';
import { rewriteHtml, runtimeTag } from './html-rewriter';
import { targetUrlOf } from './targets';
import { requestUpstream } from './upstream';
import { createUrlRewriter, cssRewriteStream, textEncodingOf } from './url-rewriter';

// One proxied HTTP request, streamed both ways: the request body goes up as it arrives (capped),
// the answer comes down as it arrives (capped, with an idle timeout), HTML and CSS rewritten on
// the fly. Nothing is held whole in memory.

export type ProxyLimits = {
  timeoutMs: number;
  idleMs: number;
  maxRequestBytes: number;
  maxResponseBytes: number;
};

export type ProxyDeps = { db: Db; box: SecretBox; guard: AddressGuard; limits: ProxyLimits };

const NO_BODY_STATUS = new Set([204, 205, 304]);
const HTML = /^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/i;
const CSS = /^\s*text\/css\s*(;|$)/i;

/** Passes at most `max` bytes; one more cuts the stream with `tooLarge()`. */
function byteCap(max: number, tooLarge: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) return done(tooLarge());
      done(null, chunk);
    },
  });
}

function requestBody(req: IncomingMessage, max: number): Readable | undefined {
  const length = req.headers['content-length'];
  if (length !== undefined && Number(length) > max) throw new AppError('PAYLOAD_TOO_LARGE');
  const hasBody =
    (length !== undefined && Number(length) > 0) || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return undefined;
  return pipeline(
    req,
    byteCap(max, () => new AppError('PAYLOAD_TOO_LARGE')),
    () => {},
  );
}

/** Browser mode: a redirect to a refused address is answered with the refusal, not passed on. */
async function checkRedirect(deps: ProxyDeps, access: ProxyAccess, from: URL, location: unknown) {
  if (access.connection.target.mode !== 'browser' || typeof location !== 'string') return;
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return;
  }
  if (next.protocol === 'http:' || next.protocol === 'https:') await deps.guard.destination(next);
}

export async function forwardHttp(
  deps: ProxyDeps,
  opts: { access: ProxyAccess; req: IncomingMessage; res: ServerResponse; rest: string; search: string },
): Promise<void> {
  const { access, req, res } = opts;
  const { connection } = access;
  const { target } = connection;
  if (target.mode === 'browser' && (opts.rest === '' || opts.rest === '/')) {
    res
      .writeHead(302, { location: `${access.prefix}/${target.home.href}`, 'cache-control': 'no-store' })
      .end();
    return;
  }
  const url = targetUrlOf(target, opts.rest, opts.search);
  const destination = target.mode === 'browser' ? await deps.guard.destination(url) : undefined;
  const jar = await loadJar(deps, connection.id);
  const method = req.method ?? 'GET';
  const answer = await requestUpstream({
    url,
    method,
    headers: upstreamRequestHeaders({ incoming: req.headers, access, target: url, jar }),
    destination,
    verifyTls: target.verifyTls,
    timeoutMs: deps.limits.timeoutMs,
    body: requestBody(req, deps.limits.maxRequestBytes),
  });
  const upstream = answer.response;
  try {
    const setCookies = upstream.headers['set-cookie'];
    if (setCookies) {
      await storeCookies(deps, { connectionId: connection.id, userId: connection.userId, url, setCookies });
    }
    const status = upstream.statusCode ?? 502;
    if (status >= 300 && status < 400) await checkRedirect(deps, access, url, upstream.headers.location);
  } catch (err) {
    upstream.destroy();
    throw err;
  }

  const status = upstream.statusCode ?? 502;
  const hasBody = method !== 'HEAD' && !NO_BODY_STATUS.has(status);
  const contentType = String(upstream.headers['content-type'] ?? '');
  const kind = !hasBody ? 'none' : HTML.test(contentType) ? 'html' : CSS.test(contentType) ? 'css' : 'raw';
  const rewriter = createUrlRewriter(target, access.prefix, url);
  const headers = relayedResponseHeaders({
    upstream: upstream.headers,
    rewriter,
    rewritten: kind === 'html' || kind === 'css',
    requestOrigin: req.headers.origin,
  });
  // Portal's own frame rule would keep the embedded browser from showing the page; the sandbox
  // CSP above is what protects Portal from it.
  res.removeHeader('X-Frame-Options');
  res.writeHead(status, upstream.statusMessage, headers);
  if (kind === 'none') {
    upstream.resume();
    res.end();
    return;
  }
  upstream.socket?.setTimeout(deps.limits.idleMs, () => upstream.destroy(new Error('upstream idle')));
  const encoding = textEncodingOf(contentType);
  const body: Readable =
    kind === 'html'
      ? rewriteHtml(decoded(upstream), rewriter, {
          encoding,
          inject: runtimeTag({
            prefix: access.prefix,
            mode: target.mode,
            origin: target.mode === 'backend' ? target.origin.origin : '',
          }),
        })
      : kind === 'css'
        ? pipeline(decoded(upstream), cssRewriteStream(rewriter, encoding), () => {})
        : upstream;
  await new Promise<void>((resolve) => {
    pipeline(
      body,
      byteCap(deps.limits.maxResponseBytes, () => new Error('response too large')),
      res,
      // Headers are out: a failure can only cut the response short.
      () => {
        upstream.destroy();
        resolve();
      },
    );
  });
}
