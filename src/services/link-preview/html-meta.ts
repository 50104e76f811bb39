// Reads OpenGraph tags, <title> and the description meta from an HTML page, without a DOM library.
// A single forward scan with indexOf (no backtracking regex over the page), so a hostile page of
// 512 KB costs linear time whatever it contains.

export type PageMeta = {
  title: string | null;
  description: string | null;
  image: string | null;
  site_name: string | null;
};

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  middot: '·',
  bull: '•',
  copy: '©',
  reg: '®',
  trade: '™',
  euro: '€',
};

/** Decodes the common named entities and all numeric ones; unknown entities stay as written. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z]{2,8});/g, (whole, body: string) => {
    if (body[0] === '#') {
      const code =
        body[1] === 'x' || body[1] === 'X' ? Number.parseInt(body.slice(2), 16) : Number(body.slice(1));
      const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
      return valid ? String.fromCodePoint(code) : '\uFFFD';
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}

/** Attributes of one tag's inner text (`meta property="og:title" content='x'`), names lower-cased. */
export function parseAttributes(text: string): Map<string, string> {
  const attrs = new Map<string, string>();
  const re = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[1]!.toLowerCase();
    if (!attrs.has(name)) attrs.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attrs;
}

/** Index of the `>` that ends a tag opened at `from`, skipping quoted attribute values. */
function tagEnd(html: string, from: number): number {
  let quote: string | null = null;
  for (let i = from; i < html.length; i++) {
    const c = html[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return i;
    }
  }
  return -1;
}

/** Where the raw text of <script>, <style>, <title>... ends (the start of its closing tag). */
function rawTextEnd(html: string, from: number, name: string): number {
  const re = new RegExp(`</${name}[\\s/>]`, 'gi');
  re.lastIndex = from;
  return re.exec(html)?.index ?? -1;
}

const RAW_TEXT = new Set(['script', 'style', 'title', 'textarea', 'noscript', 'template', 'xmp']);
const TAG_NAME = /<([A-Za-z][A-Za-z0-9:-]*)/y;

const clean = (text: string | undefined, max: number): string | null => {
  if (text === undefined) return null;
  const collapsed = text.replace(/\s+/g, ' ').trim();
  if (!collapsed) return null;
  return [...collapsed].slice(0, max).join('');
};

export const FIELD_LIMITS = { title: 300, description: 1000, site_name: 200, image: 2048 } as const;

/** The preview fields of a page: OpenGraph first, then Twitter cards, <title> and description. */
export function extractPageMeta(html: string): PageMeta {
  const props = new Map<string, string>();
  let title: string | undefined;
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) break;
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      if (end < 0) break;
      i = end + 3;
      continue;
    }
    TAG_NAME.lastIndex = lt;
    const m = TAG_NAME.exec(html);
    if (!m) {
      i = lt + 1;
      continue;
    }
    const name = m[1]!.toLowerCase();
    const end = tagEnd(html, TAG_NAME.lastIndex);
    if (end < 0) break;
    if (name === 'meta') {
      const attrs = parseAttributes(html.slice(TAG_NAME.lastIndex, end));
      const key = (attrs.get('property') ?? attrs.get('name') ?? '').toLowerCase();
      const content = attrs.get('content');
      if (key && content !== undefined && !props.has(key)) props.set(key, content);
    }
    i = end + 1;
    if (RAW_TEXT.has(name)) {
      const close = rawTextEnd(html, i, name);
      if (name === 'title' && title === undefined)
        title = decodeEntities(html.slice(i, close < 0 ? undefined : close));
      if (close < 0) break;
      i = close + 2;
    }
  }
  const first = (...keys: string[]) => keys.map((k) => props.get(k)).find((v) => v?.trim());
  return {
    title: clean(first('og:title', 'twitter:title') ?? title, FIELD_LIMITS.title),
    description: clean(
      first('og:description', 'twitter:description', 'description'),
      FIELD_LIMITS.description,
    ),
    image: clean(
      first('og:image', 'og:image:url', 'og:image:secure_url', 'twitter:image'),
      FIELD_LIMITS.image,
    ),
    site_name: clean(first('og:site_name'), FIELD_LIMITS.site_name),
  };
}
