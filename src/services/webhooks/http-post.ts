import { readFileSync } from 'node:fs';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { pinnedLookup, readCapped } from '../link-preview/safe-fetch';
import type { CheckedTarget } from './target-guard';

// One HTTPS POST to a checked target: the socket connects to the approved address (the URL's
// name still drives SNI and certificate checks), redirects are answered as failures and never
// followed, and one deadline bounds connecting, sending and reading the first bytes of the answer.

/** How much of a receiver's answer the delivery log keeps. */
export const RESPONSE_EXCERPT_BYTES = 1024;

export type PostResult =
  | { ok: true; status: number; body: string }
  | { ok: false; status: number | null; body: string; error: string };

export type PostOptions = {
  timeoutMs: number;
  /** Extra trusted CA certificates (WEBHOOK_TEST_CA_FILE), added to the system's roots. */
  ca?: Buffer | undefined;
};

/** The CA option for https.request: undefined keeps Node's defaults. */
export function extraCa(path: string | undefined): Buffer | undefined {
  return path ? readFileSync(path) : undefined;
}

export function postSigned(
  target: CheckedTarget,
  body: string,
  headers: Record<string, string>,
  opts: PostOptions,
): Promise<PostResult> {
  return new Promise((resolve) => {
    const signal = AbortSignal.timeout(opts.timeoutMs);
    const req = https.request(target.url, {
      method: 'POST',
      agent: false,
      lookup: pinnedLookup(target.address, target.family),
      signal,
      ...(opts.ca && { ca: [...rootCertificates, opts.ca.toString('utf8')] }),
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    req.on('error', (err) => {
      const timedOut = signal.aborted;
      resolve({
        ok: false,
        status: null,
        body: '',
        error: timedOut ? `No answer within ${opts.timeoutMs} ms` : describeNetworkError(err),
      });
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      readCapped(res, RESPONSE_EXCERPT_BYTES)
        .catch(() => Buffer.alloc(0))
        .then((buf) => {
          const text = buf.toString('utf8');
          if (status >= 200 && status < 300) return resolve({ ok: true, status, body: text });
          const error =
            status >= 300 && status < 400
              ? `Redirect to ${String(res.headers.location ?? '?')} not followed`
              : `Receiver answered ${status}`;
          resolve({ ok: false, status, body: text, error });
        });
    });
    req.end(body);
  });
}

function describeNetworkError(err: Error): string {
  const code = (err as { code?: string }).code;
  return code ? `${code}: ${err.message}` : err.message;
}
