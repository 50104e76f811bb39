import { describe, expect, it } from 'vitest';
import { MultipartError, multipartBoundary, readMultipartFile } from '../../src/rest/multipart';

const BOUNDARY = '----portalTestBoundary7MA4YWxkTrZu0gW';

type Part = { name: string; filename?: string; data: Buffer | string };

function encode(parts: Part[], boundary = BOUNDARY): Buffer {
  const pieces: Buffer[] = [];
  for (const p of parts) {
    const filename = p.filename ? `; filename="${p.filename}"` : '';
    pieces.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${filename}\r\n`),
      Buffer.from(p.filename ? 'Content-Type: application/octet-stream\r\n\r\n' : '\r\n'),
      Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data),
      Buffer.from('\r\n'),
    );
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(pieces);
}

/** A request-like source that yields `body` in chunks of `size` and counts what was pulled. */
function source(body: Buffer, size = 64 * 1024, headers: Record<string, string> = {}) {
  const stats = { pulled: 0 };
  const req = {
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...headers },
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < body.length; i += size) {
        const chunk = body.subarray(i, i + size);
        stats.pulled += chunk.length;
        yield chunk;
      }
    },
  };
  return { req, stats };
}

const kind = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MultipartError);
  return (err as MultipartError).kind;
};

function binary(n: number, seed = 7) {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (i * seed + 13) & 0xff;
  return out;
}

describe('multipartBoundary', () => {
  it('reads plain and quoted boundaries and refuses other types', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(multipartBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b:c"')).toBe('a b:c');
    expect(multipartBoundary('multipart/form-data')).toBeUndefined();
    expect(multipartBoundary('application/json')).toBeUndefined();
    expect(multipartBoundary('multipart/mixed; boundary=abc')).toBeUndefined();
    expect(multipartBoundary(undefined)).toBeUndefined();
  });
});

describe('readMultipartFile', () => {
  const file = binary(10_000);
  const body = encode([
    { name: 'caption', data: 'hello' },
    { name: 'image', filename: 'x.png', data: file },
    { name: 'other', filename: 'y.bin', data: binary(500, 3) },
  ]);

  it('returns the named field among others, whatever the chunk size', async () => {
    for (const size of [1, 2, 7, 41, 1000, body.length]) {
      const { req } = source(body, size);
      const got = await readMultipartFile(req, { field: 'image', maxBytes: 1 << 20 });
      expect(got.equals(file), `chunk size ${size}`).toBe(true);
    }
  });

  it('keeps bytes that look like the start of a delimiter', async () => {
    const tricky = Buffer.concat([
      Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}`),
      Buffer.from('\r\n--'),
      Buffer.from(`--${BOUNDARY}`), // no CRLF before it: content, not a delimiter
      binary(100),
      Buffer.from('\r\n'),
    ]);
    const { req } = source(encode([{ name: 'image', filename: 'a', data: tricky }]), 5);
    expect((await readMultipartFile(req, { field: 'image', maxBytes: 1 << 20 })).equals(tricky)).toBe(true);
  });

  it('reads an empty file and ignores preamble and epilogue', async () => {
    const wrapped = Buffer.concat([
      Buffer.from('preamble text\r\n'),
      encode([{ name: 'image', filename: 'a', data: '' }]),
      Buffer.from('epilogue'),
    ]);
    const { req } = source(wrapped, 3);
    expect((await readMultipartFile(req, { field: 'image', maxBytes: 10 })).length).toBe(0);
  });

  it('accepts exactly the cap and refuses one byte more', async () => {
    const max = 5 * 1024 * 1024;
    const exact = source(encode([{ name: 'image', filename: 'a', data: binary(max) }]));
    expect((await readMultipartFile(exact.req, { field: 'image', maxBytes: max })).length).toBe(max);
    const over = source(encode([{ name: 'image', filename: 'a', data: binary(max + 1) }]));
    expect(await kind(readMultipartFile(over.req, { field: 'image', maxBytes: max }))).toBe('too_large');
  });

  it('stops reading an endless body at the cap', async () => {
    const stats = { pulled: 0 };
    const endless = {
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      async *[Symbol.asyncIterator]() {
        yield Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="other"\r\n\r\n`);
        for (;;) {
          stats.pulled += 4096;
          yield Buffer.alloc(4096, 0x61);
        }
      },
    };
    const max = 100_000;
    expect(
      await kind(readMultipartFile(endless, { field: 'image', maxBytes: max, overheadBytes: 1000 })),
    ).toBe('too_large');
    expect(stats.pulled).toBeLessThanOrEqual(max + 1000 + 4096);
  });

  it('refuses a declared Content-Length over the cap before reading', async () => {
    const { req, stats } = source(body, 1000, { 'content-length': String(10_000_000) });
    expect(await kind(readMultipartFile(req, { field: 'image', maxBytes: 1000, overheadBytes: 0 }))).toBe(
      'too_large',
    );
    expect(stats.pulled).toBe(0);
  });

  it('names the other failures', async () => {
    const notMultipart = { ...source(body).req, headers: { 'content-type': 'image/png' } };
    expect(await kind(readMultipartFile(notMultipart, { field: 'image', maxBytes: 1e6 }))).toBe(
      'not_multipart',
    );
    const noField = source(encode([{ name: 'picture', filename: 'a', data: 'x' }])).req;
    expect(await kind(readMultipartFile(noField, { field: 'image', maxBytes: 1e6 }))).toBe('missing');
    const truncated = source(body.subarray(0, body.length - 10)).req;
    expect(await kind(readMultipartFile(truncated, { field: 'image', maxBytes: 1e6 }))).toBe('malformed');
    const hugeHeaders = source(Buffer.from(`--${BOUNDARY}\r\nX: ${'a'.repeat(20_000)}\r\n\r\nx`)).req;
    expect(await kind(readMultipartFile(hugeHeaders, { field: 'image', maxBytes: 1e6 }))).toBe('malformed');
  });

  it('reads what fetch itself encodes from FormData', async () => {
    const form = new FormData();
    form.append('note', 'a\r\n--b');
    form.append('image', new Blob([file], { type: 'text/plain' }), 'photo.txt');
    const request = new Request('http://localhost/upload', { method: 'POST', body: form });
    const encoded = Buffer.from(await request.arrayBuffer());
    const req = {
      headers: { 'content-type': request.headers.get('content-type') ?? '' },
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < encoded.length; i += 333) yield encoded.subarray(i, i + 333);
      },
    };
    expect((await readMultipartFile(req, { field: 'image', maxBytes: 1 << 20 })).equals(file)).toBe(true);
  });
});
