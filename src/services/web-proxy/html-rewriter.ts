import { pipeline, type Readable, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { RewritingStream } from 'parse5-html-rewriting-stream';
import type { StartTag } from 'parse5-sax-parser';
import type { UrlRewriter } from './url-rewriter';

// Streams an HTML page through parse5's rewriter: URL attributes, srcset, inline styles and
// <style> blocks point into the proxy, and the proxy runtime (browser/proxy-runtime.js, which
// intercepts fetch, XHR, WebSocket, history and forms) is the first script of the page. Tokens
// that need no change are copied byte for byte.

const URL_ATTRIBUTES: Record<string, readonly string[]> = {
  a: ['href'],
  area: ['href'],
  link: ['href'],
  base: ['href'],
  img: ['src'],
  script: ['src'],
  iframe: ['src'],
  frame: ['src'],
  embed: ['src'],
  source: ['src'],
  track: ['src'],
  audio: ['src'],
  video: ['src', 'poster'],
  input: ['src', 'formaction'],
  button: ['formaction'],
  form: ['action'],
  object: ['data'],
  body: ['background'],
  table: ['background'],
  td: ['background'],
  th: ['background'],
  image: ['href', 'xlink:href'],
  use: ['href', 'xlink:href'],
};

/** Subresource integrity cannot hold for rewritten bodies; `ping` would report clicks off-proxy. */
const DROPPED_ATTRIBUTES = new Set(['integrity', 'ping']);
const STYLE_HOLD_MAX = 1024 * 1024;

const escapeAttribute = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The `<script>` that loads the proxy runtime, with what it needs to know about this page. */
export function runtimeTag(config: Record<string, string>): string {
  return `<script src="/browser/assets/proxy-runtime.js" data-portal-proxy="${escapeAttribute(JSON.stringify(config))}"></script>`;
}

function rewriteMeta(tag: StartTag, rewriter: UrlRewriter): 'drop' | boolean {
  const equiv = tag.attrs.find((a) => a.name === 'http-equiv')?.value.toLowerCase();
  // The page's own policy would block the proxied URLs; the proxy's sandboxing CSP applies instead.
  if (equiv === 'content-security-policy' || equiv === 'content-security-policy-report-only') return 'drop';
  const content = tag.attrs.find((a) => a.name === 'content');
  if (equiv !== 'refresh' || !content) return false;
  const match = /^(\s*\d*\.?\d*\s*[;,]\s*(?:url\s*=\s*)?)(['"]?)(.*?)\2\s*$/i.exec(content.value);
  if (!match?.[3]) return false;
  content.value = `${match[1]}${rewriter.url(match[3])}`;
  return true;
}

function rewriteTag(tag: StartTag, rewriter: UrlRewriter): 'drop' | boolean {
  if (tag.tagName === 'meta') return rewriteMeta(tag, rewriter);
  let changed = false;
  const urlNames = URL_ATTRIBUTES[tag.tagName] ?? [];
  if (tag.tagName === 'base') {
    const href = tag.attrs.find((a) => a.name === 'href')?.value;
    if (href) {
      try {
        rewriter.base = new URL(href, rewriter.base);
      } catch {
        // An unusable <base> changes nothing, for browsers either.
      }
    }
  }
  const before = tag.attrs.length;
  tag.attrs = tag.attrs.filter((a) => !DROPPED_ATTRIBUTES.has(a.name));
  if (tag.attrs.length !== before) changed = true;
  for (const attr of tag.attrs) {
    let next = attr.value;
    if (urlNames.includes(attr.name)) next = rewriter.url(attr.value);
    else if (attr.name === 'srcset') next = rewriter.srcset(attr.value);
    else if (attr.name === 'style') next = rewriter.css(attr.value);
    // A sandboxed frame may not navigate Portal's page: such links open in the frame itself.
    else if (attr.name === 'target' && /^_(top|parent)$/i.test(attr.value)) next = '_self';
    if (next !== attr.value) {
      attr.value = next;
      changed = true;
    }
  }
  return changed;
}

/**
 * The rewritten page as bytes, in the encoding it was read with (`latin1` keeps every byte of a
 * page whose charset is not UTF-8, since HTML's syntax is ASCII).
 */
export function rewriteHtml(
  source: Readable,
  rewriter: UrlRewriter,
  opts: { encoding: BufferEncoding; inject: string },
): Readable {
  const html = new RewritingStream();
  let injected = false;
  let style: string[] | null = null;
  let styleBytes = 0;
  const inject = () => {
    if (injected) return;
    injected = true;
    html.emitRaw(opts.inject);
  };

  html.on('startTag', (tag, raw) => {
    if (!injected && tag.tagName !== 'html' && tag.tagName !== 'head') inject();
    const result = rewriteTag(tag, rewriter);
    if (result !== 'drop') {
      if (result) html.emitStartTag(tag);
      else html.emitRaw(raw);
    }
    if (tag.tagName === 'head') inject();
    if (tag.tagName === 'style' && !tag.selfClosing) {
      style = [];
      styleBytes = 0;
    }
  });
  html.on('text', (_text, raw) => {
    if (style === null) return html.emitRaw(raw);
    style.push(raw);
    styleBytes += raw.length;
    if (styleBytes > STYLE_HOLD_MAX) {
      html.emitRaw(rewriter.css(style.join('')));
      style = [];
      styleBytes = 0;
    }
  });
  html.on('endTag', (_tag, raw) => {
    if (style !== null) {
      html.emitRaw(rewriter.css(style.join('')));
      style = null;
    }
    html.emitRaw(raw);
  });

  const decoder = new StringDecoder(opts.encoding);
  const decode = new Transform({
    readableObjectMode: true,
    transform(chunk: Buffer, _enc, done) {
      const text = decoder.write(chunk);
      done(null, text === '' ? undefined : text);
    },
    flush(done) {
      const text = decoder.end();
      done(null, text === '' ? undefined : text);
    },
  });
  const encode = new Transform({
    writableObjectMode: true,
    transform(chunk: string | Buffer, _enc, done) {
      done(null, typeof chunk === 'string' ? Buffer.from(chunk, opts.encoding) : chunk);
    },
    flush(done) {
      // A page with no tags at all still gets the runtime (and a fragment stays a fragment).
      done(null, injected ? undefined : Buffer.from('', opts.encoding));
    },
  });
  return pipeline(source, decode, html, encode, () => {});
}
