import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { AppError } from '../../core/errors';
import { pinnedLookup } from '../link-preview/safe-fetch';
import type { Destination } from './address-guard';

// One request to the backend: to the address the guard checked (browser mode) or by the
// backend's own name, with TLS verified unless the connection turned it off, and a deadline for
// the answer's headers. Failures become the contract's 502/504 with a reason the user can act on.

export type UpstreamRequest = {
  url: URL;
  method: string;
  headers: http.OutgoingHttpHeaders;
  /** Browser mode: connect exactly here. */
  destination?: Destination | undefined;
  verifyTls: boolean;
  timeoutMs: number;
  body?: Readable | undefined;
};

export type UpstreamAnswer =
  | { kind: 'response'; response: http.IncomingMessage }
  | { kind: 'upgrade'; response: http.IncomingMessage; socket: Socket; head: Buffer };

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|HOSTNAME|ALTNAME/;

export function upstreamError(url: URL, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? '';
  if (TLS_CODES.test(code)) {
    return new AppError(
      'BAD_GATEWAY',
      `The TLS certificate of ${url.host} could not be verified (${code})`,
      {},
      err,
    );
  }
  if (code === 'ECONNREFUSED')
    return new AppError('BAD_GATEWAY', `${url.host} refused the connection`, {}, err);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new AppError('BAD_GATEWAY', `Could not resolve ${url.hostname}`, {}, err);
  return new AppError('BAD_GATEWAY', `Could not reach ${url.host}${code ? ` (${code})` : ''}`, {}, err);
}

export function requestUpstream(opts: UpstreamRequest): Promise<UpstreamAnswer> {
  const client = opts.url.protocol === 'https:' ? https : http;
  return new Promise<UpstreamAnswer>((resolve, reject) => {
    const req = client.request(opts.url, {
      method: opts.method,
      headers: opts.headers,
      agent: false,
      ...(opts.destination && { lookup: pinnedLookup(opts.destination.address, opts.destination.family) }),
      rejectUnauthorized: opts.verifyTls,
      // Header names as the client wrote them matter to a few backends; values are ours.
      setHost: false,
    });
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new AppError('GATEWAY_TIMEOUT', `${opts.url.host} did not answer in time`));
    }, opts.timeoutMs);
    const settle = (answer: UpstreamAnswer) => {
      if (settled) {
        answer.response.destroy();
        if (answer.kind === 'upgrade') answer.socket.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    // A backend that resets mid-body must not become an unhandled 'error' (the pipes report it).
    req.on('response', (response) => {
      response.on('error', () => {});
      settle({ kind: 'response', response });
    });
    req.on('upgrade', (response, socket, head) => {
      socket.on('error', () => socket.destroy());
      settle({ kind: 'upgrade', response, socket, head });
    });
    req.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(upstreamError(opts.url, err));
    });
    if (opts.body) {
      opts.body.on('error', (err) => req.destroy(err));
      opts.body.pipe(req);
    } else {
      req.end();
    }
  });
}
