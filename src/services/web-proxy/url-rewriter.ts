import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { proxyPathOf, type WebTarget } from './targets';

// URL rewriting shared by the HTML and CSS rewriters and the response headers: every link a page
// gives (relative, root-relative, protocol-relative or absolute) is resolved against the page's
// URL and turned into the /proxy/{id}/… path that reaches it, so the page keeps working inside
// the proxy. Links this connection cannot reach, fragments and non-web schemes stay as they are.

const UNTOUCHED = /^(#|javascript:|data:|blob:|mailto:|tel:|about:)/i;

export type UrlRewriter = {
  /** The page's base URL (changed by `<base href>`). */
  base: URL;
  url(value: string): string;
  srcset(value: string): string;
  css(text: string): string;
};

export function createUrlRewriter(target: WebTarget, prefix: string, pageUrl: URL): UrlRewriter {
  const rewriter: UrlRewriter = {
    base: pageUrl,
    url(value) {
      const trimmed = value.trim();
      if (trimmed === '' || UNTOUCHED.test(trimmed)) return value;
      let absolute: URL;
      try {
        absolute = new URL(trimmed, rewriter.base);
      } catch {
        return value;
      }
      return proxyPathOf(target, prefix, absolute) ?? value;
    },
    srcset(value) {
      return value
        .split(/,(?=\s|$)/)
        .map((candidate) => {
          const match = /^(\s*)(\S+)(.*)$/s.exec(candidate);
          return match ? `${match[1]}${rewriter.url(match[2]!)}${match[3]}` : candidate;
        })
        .join(',');
    },
    css(text) {
      return text
        .replace(/url\(\s*(['"]?)([^'")]*?)\1\s*\)/gi, (_m, quote: string, url: string) => {
          return `url(${quote}${rewriter.url(url)}${quote})`;
        })
        .replace(/@import\s+(['"])([^'"]*)\1/gi, (_m, quote: string, url: string) => {
          return `@import ${quote}${rewriter.url(url)}${quote}`;
        });
    },
  };
  return rewriter;
}

/** Text the byte stream is read as: UTF-8 when declared, else latin1, which keeps every byte. */
export function textEncodingOf(contentType: string): BufferEncoding {
  const charset = /charset\s*=\s*"?([\w-]+)/i.exec(contentType)?.[1]?.toLowerCase();
  return charset === 'utf-8' || charset === 'utf8' ? 'utf8' : 'latin1';
}

const CSS_HOLD_MAX = 64 * 1024;

/**
 * Rewrites a CSS stream without holding it whole: text after the last `}`, `;` or newline waits
 * for the next chunk (a `url(` may be cut there), up to 64 KiB.
 */
export function cssRewriteStream(rewriter: UrlRewriter, encoding: BufferEncoding): Transform {
  const decoder = new StringDecoder(encoding);
  let held = '';
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const text = held + decoder.write(chunk);
      const cut = Math.max(text.lastIndexOf('}'), text.lastIndexOf(';'), text.lastIndexOf('\n')) + 1;
      const ready = cut > 0 || text.length > CSS_HOLD_MAX ? (cut > 0 ? cut : text.length) : 0;
      held = text.slice(ready);
      done(null, ready > 0 ? Buffer.from(rewriter.css(text.slice(0, ready)), encoding) : undefined);
    },
    flush(done) {
      const rest = held + decoder.end();
      done(null, rest ? Buffer.from(rewriter.css(rest), encoding) : undefined);
    },
  });
}
