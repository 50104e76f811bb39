import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';

// A streaming multipart/form-data reader (RFC 7578). No parser is installed (busboy is not a
// dependency), and uploads need only this. One scanner, two ways to read: `readMultipartFile`
// keeps one named file in memory up to a hard cap (chat images), `readMultipartForm` hands text
// fields over whole and file parts as streams with backpressure (SFTP uploads of any size). The
// whole body is bounded either way, so a client can never make the server hold more than the cap.

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

/** The `filename` of a part's Content-Disposition header (path parts are the caller's to judge). */
function partFilename(headerText: string): string | undefined {
  for (const line of headerText.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
    const value = line.slice(colon + 1);
    const star = /;\s*filename\*\s*=\s*UTF-8''([^\s;]+)/i.exec(value);
    if (star) {
      try {
        return decodeURIComponent(star[1] as string);
      } catch {
        return undefined;
      }
    }
    const m = /;\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))/i.exec(value);
    // Browsers send UTF-8 bytes in the quoted form; the header was decoded as UTF-8 already.
    return m ? (m[1] ?? m[2])?.replace(/\\(.)/g, '$1') : undefined;
  }
  return undefined;
}

/** What the scanner reports; `data` and `end` may return a promise to hold reading (backpressure). */
type PartSink = {
  start(part: { name: string | undefined; filename: string | undefined }): void;
  data(chunk: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
};

/**
 * The one multipart/form-data state machine: reads `req` once, reports each part's start, body
 * bytes and end to `sink`, and bounds the whole body at `maxBody` (MultipartError `too_large`).
 */
async function scanMultipart(req: Source, maxBody: number, sink: PartSink): Promise<void> {
  const boundary = multipartBoundary(req.headers['content-type']);
  if (!boundary) throw new MultipartError('not_multipart');
  const declared = Number(req.headers['content-length']);
  // Refuse early when the client already says it will send too much.
  if (Number.isFinite(declared) && declared > maxBody) throw new MultipartError('too_large');

  // Every delimiter is CRLF "--" boundary; a virtual CRLF in front lets the first one match too.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let pending: Buffer = CRLF;
  let state: 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done' = 'preamble';
  let received = 0;

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
          if (state === 'body' && safe > 0) await sink.data(pending.subarray(0, safe));
          pending = pending.subarray(safe);
          break;
        }
        if (state === 'body') {
          if (at > 0) await sink.data(pending.subarray(0, at));
          await sink.end();
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
        const headerText = pending.subarray(0, end).toString('utf8');
        sink.start({ name: partName(headerText), filename: partFilename(headerText) });
        pending = pending.subarray(end + HEADER_END.length);
        state = 'body';
      }
    }
  }
  if (state !== 'done') throw new MultipartError('malformed');
}

/**
 * Reads the request body and returns the bytes of the first part named `field`. Throws
 * MultipartError: `not_multipart` (wrong content type, no boundary), `too_large` (file over the
 * cap, or a body larger than file + overhead), `missing` (no such part), `malformed`.
 */
export async function readMultipartFile(req: Source, opts: ReadFileOptions): Promise<Buffer> {
  let keep = false;
  let file: Buffer[] = [];
  let fileBytes = 0;
  let found: Buffer | undefined;
  await scanMultipart(req, opts.maxBytes + (opts.overheadBytes ?? 64 * 1024), {
    start(part) {
      // Only the first part with the name is kept; repeats are discarded like any other part.
      keep = part.name === opts.field && !found;
      file = [];
      fileBytes = 0;
    },
    data(chunk) {
      if (!keep) return;
      fileBytes += chunk.length;
      if (fileBytes > opts.maxBytes) throw new MultipartError('too_large');
      file.push(chunk);
    },
    end() {
      if (keep) found = Buffer.concat(file, fileBytes);
      keep = false;
    },
  });
  if (!found) throw new MultipartError('missing');
  return found;
}

export type FormFile = {
  field: string;
  /** As the client sent it; the consumer decides what makes a safe name. */
  filename: string | undefined;
  /** The part's bytes, streamed: reading pauses while the consumer does not read. */
  stream: Readable;
};

export type ReadFormOptions = {
  /** Largest whole body; past it the read stops with `too_large`. */
  maxBodyBytes: number;
  /** Largest text field (default 64 KB). */
  maxFieldBytes?: number;
  /** A text field (no filename) arrived in full. */
  onField?(name: string, value: string): void;
  /**
   * A file part begins. The returned promise must consume `stream`; the form is done once it
   * settles. If it rejects, reading stops with its error. If the body fails first, `stream` is
   * destroyed with the error, and the read waits for the promise before throwing.
   */
  onFile(file: FormFile): Promise<void>;
};

/**
 * Streams a multipart form: text fields are handed over whole (bounded), file parts as streams
 * with backpressure, so an upload of any size passes through with bounded memory. Fields are
 * seen in the order the client sent them.
 */
export async function readMultipartForm(req: Source, opts: ReadFormOptions): Promise<void> {
  const maxField = opts.maxFieldBytes ?? 64 * 1024;
  let field: { name: string; chunks: Buffer[]; bytes: number } | null = null;
  let file: { stream: PassThrough; done: Promise<void> } | null = null;
  let consumerError: unknown = null;
  const consumers: Promise<void>[] = [];

  try {
    await scanMultipart(req, opts.maxBodyBytes, {
      start(part) {
        if (part.filename === undefined) {
          field = part.name === undefined ? null : { name: part.name, chunks: [], bytes: 0 };
          return;
        }
        const stream = new PassThrough({ highWaterMark: 64 * 1024 });
        const done = opts.onFile({ field: part.name ?? '', filename: part.filename, stream }).catch((err) => {
          consumerError ??= err;
          stream.destroy();
        });
        consumers.push(done);
        file = { stream, done };
      },
      async data(chunk) {
        if (consumerError) throw consumerError;
        if (field) {
          field.bytes += chunk.length;
          if (field.bytes > maxField) throw new MultipartError('too_large');
          field.chunks.push(chunk);
          return;
        }
        if (!file) return;
        // The transport may reuse its buffer; the consumer may read later.
        if (!file.stream.write(Buffer.from(chunk))) {
          const { stream, done } = file;
          await Promise.race([once(stream, 'drain'), done]);
          if (consumerError) throw consumerError;
        }
      },
      async end() {
        if (field) opts.onField?.(field.name, Buffer.concat(field.chunks, field.bytes).toString('utf8'));
        field = null;
        if (!file) return;
        const { stream, done } = file;
        file = null;
        stream.end();
        await done;
        if (consumerError) throw consumerError;
      },
    });
  } catch (err) {
    // A broken body: let the consumer of an unfinished file see it fail and clean up first.
    const open = file as { stream: PassThrough } | null;
    open?.stream.destroy(err instanceof Error ? err : new Error(String(err)));
    await Promise.allSettled(consumers);
    throw err;
  }
}
