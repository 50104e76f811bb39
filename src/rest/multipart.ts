import type { IncomingHttpHeaders } from 'node:http';

// A streaming multipart/form-data reader for exactly one file field (RFC 7578). No parser is
// installed (busboy is not a dependency), and uploads need only this: the named field is kept in
// memory up to a hard cap, every other part is discarded as it streams past, and the whole body is
// bounded, so a client can never make the server hold more than the cap.

export type MultipartErrorKind = 'not_multipart' | 'too_large' | 'missing' | 'malformed';

export class MultipartError extends Error {
  constructor(readonly kind: MultipartErrorKind) {
    super(`multipart: ${kind}`);
    this.name = 'MultipartError';
  }
}

export type ReadFileOptions = {
  /** The form field that carries the file. */
  field: string;
  /** Largest file accepted; one byte more aborts the read with `too_large`. */
  maxBytes: number;
  /** Room for part headers, other small fields and boundaries on top of the file (default 64 KB). */
  overheadBytes?: number;
};

const MAX_PART_HEADER_BYTES = 8 * 1024;
const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** The boundary of a multipart/form-data content type, or undefined for anything else. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const [type, ...params] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  for (const param of params) {
    const m = /^\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s";]{1,70}))\s*$/i.exec(param);
    if (m) return m[1] ?? m[2];
  }
  return undefined;
}

/** The `name` of a part's Content-Disposition: form-data header. */
function partName(headerText: string): string | undefined {
  for (const line of headerText.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
    const value = line.slice(colon + 1);
    if (!/^\s*form-data\s*(;|$)/i.test(value)) return undefined;
    const m = /;\s*name\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(value);
    return m ? (m[1] ?? m[2]) : undefined;
  }
  return undefined;
}

type Source = AsyncIterable<Buffer | string> & {
  headers: IncomingHttpHeaders;
  /** Node streams: lets us stop reading without destroying the request, so an answer can still go out. */
  iterator?: (opts: { destroyOnReturn: boolean }) => AsyncIterable<Buffer | string>;
};

/**
 * Reads the request body and returns the bytes of the first part named `field`. Throws
 * MultipartError: `not_multipart` (wrong content type, no boundary), `too_large` (file over the
 * cap, or a body larger than file + overhead), `missing` (no such part), `malformed`.
 */
export async function readMultipartFile(req: Source, opts: ReadFileOptions): Promise<Buffer> {
  const boundary = multipartBoundary(req.headers['content-type']);
  if (!boundary) throw new MultipartError('not_multipart');
  const maxBody = opts.maxBytes + (opts.overheadBytes ?? 64 * 1024);
  const declared = Number(req.headers['content-length']);
  // Refuse early when the client already says it will send too much.
  if (Number.isFinite(declared) && declared > maxBody) throw new MultipartError('too_large');

  // Every delimiter is CRLF "--" boundary; a virtual CRLF in front lets the first one match too.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let pending: Buffer = CRLF;
  let state: 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done' = 'preamble';
  let received = 0;
  let keep = false;
  let file: Buffer[] | undefined;
  let fileBytes = 0;
  let found: Buffer | undefined;

  const takeContent = (chunk: Buffer) => {
    if (!keep || chunk.length === 0) return;
    fileBytes += chunk.length;
    if (fileBytes > opts.maxBytes) throw new MultipartError('too_large');
    file!.push(chunk);
  };

  const chunks = req.iterator ? req.iterator({ destroyOnReturn: false }) : req;
  for await (const raw of chunks) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    received += chunk.length;
    if (received > maxBody) throw new MultipartError('too_large');
    if (state === 'done') continue; // the epilogue is ignored, but still counted against the cap
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);

    for (;;) {
      if (state === 'preamble' || state === 'body') {
        const at = pending.indexOf(delimiter);
        if (at < 0) {
          // Hold back what could be the start of a delimiter split across chunks.
          const safe = Math.max(0, pending.length - (delimiter.length - 1));
          if (state === 'body') takeContent(pending.subarray(0, safe));
          pending = pending.subarray(safe);
          break;
        }
        if (state === 'body') {
          takeContent(pending.subarray(0, at));
          if (keep && !found) found = Buffer.concat(file!, fileBytes);
          keep = false;
        }
        pending = pending.subarray(at + delimiter.length);
        state = 'after-delimiter';
      }
      if (state === 'after-delimiter') {
        if (pending.length < 2) break;
        if (pending[0] === 0x2d && pending[1] === 0x2d) {
          state = 'done';
          pending = Buffer.alloc(0);
          break;
        }
        // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        const eol = pending.indexOf(CRLF);
        if (eol < 0) {
          if (pending.length > 256) throw new MultipartError('malformed');
          break;
        }
        if (!/^[ \t]*$/.test(pending.subarray(0, eol).toString('latin1'))) {
          throw new MultipartError('malformed');
        }
        pending = pending.subarray(eol + 2);
        state = 'headers';
      }
      if (state === 'headers') {
        const end = pending.indexOf(HEADER_END);
        if (end < 0) {
          if (pending.length > MAX_PART_HEADER_BYTES) throw new MultipartError('malformed');
          break;
        }
        if (end > MAX_PART_HEADER_BYTES) throw new MultipartError('malformed');
        const name = partName(pending.subarray(0, end).toString('utf8'));
        // Only the first part with the name is kept; repeats are discarded like any other part.
        keep = name === opts.field && !found;
        if (keep) {
          file = [];
          fileBytes = 0;
        }
        pending = pending.subarray(end + HEADER_END.length);
        state = 'body';
      }
    }
  }

  if (state !== 'done') throw new MultipartError('malformed');
  if (!found) throw new MultipartError('missing');
  return found;
}
