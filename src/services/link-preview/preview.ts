import { AppError } from '../../core/errors';
import { createHostResolver, type HostResolver } from '../rooms/browser/network-guard';
import { extractPageMeta, FIELD_LIMITS, type PageMeta } from './html-meta';
import { type FetchLimits, fetchPage } from './safe-fetch';

// Link previews for chat (API.md §8, seed 002): OpenGraph metadata of a public page, cached in the
// process for an hour so a link posted to a busy channel is fetched once, not once per reader.

export type LinkPreview = PageMeta & { url: string };

export type LinkPreviewerOptions = {
  /**
   * Decides which hosts may be fetched; the default refuses every non-public address. Tests pass
   * a permissive one to reach a local server; nothing else should.
   */
  resolveHost?: HostResolver;
  limits?: Partial<FetchLimits>;
  cacheSize?: number;
  ttlMs?: number;
  failureTtlMs?: number;
  now?: () => number;
};

export const PREVIEW_LIMITS: FetchLimits = { timeoutMs: 5_000, maxBytes: 512 * 1024, maxRedirects: 3 };
const HOUR_MS = 3_600_000;
const FAILURE_TTL_MS = 5 * 60_000;
const CACHE_SIZE = 1_000;

/** The page's charset when the server names one TextDecoder knows, else UTF-8. */
function decodeBody(body: Buffer, contentType: string): string {
  const charset = /charset\s*=\s*"?([\w.:-]+)/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

/** og:image may be relative to the page; only http(s) URLs are handed to chat clients. */
function absoluteImage(image: string | null, base: URL): string | null {
  if (!image) return null;
  try {
    const url = new URL(image, base);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    return url.href.length <= FIELD_LIMITS.image ? url.href : null;
  } catch {
    return null;
  }
}

type Entry = { expiresAt: number; result: Promise<LinkPreview> };

export function createLinkPreviewer(opts: LinkPreviewerOptions = {}) {
  const resolveHost = opts.resolveHost ?? createHostResolver();
  const limits = { ...PREVIEW_LIMITS, ...opts.limits };
  const now = opts.now ?? Date.now;
  const maxEntries = opts.cacheSize ?? CACHE_SIZE;
  // A Map iterates in insertion order: re-inserting on use makes its first key the least recent.
  const cache = new Map<string, Entry>();

  async function load(url: URL): Promise<LinkPreview> {
    const page = await fetchPage(url, resolveHost, limits);
    const meta = page.body.length > 0 ? extractPageMeta(decodeBody(page.body, page.contentType)) : undefined;
    return {
      url: url.href,
      title: meta?.title ?? null,
      description: meta?.description ?? null,
      image: absoluteImage(meta?.image ?? null, page.finalUrl),
      site_name: meta?.site_name ?? null,
    };
  }

  function remember(key: string, entry: Entry) {
    cache.delete(key);
    cache.set(key, entry);
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  }

  /** The preview of an http(s) URL; concurrent asks for one URL share one fetch. */
  function preview(input: string): Promise<LinkPreview> {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      return Promise.reject(new AppError('BAD_REQUEST', 'url must be a valid http or https URL'));
    }
    url.hash = '';
    const key = url.href;
    const hit = cache.get(key);
    if (hit && hit.expiresAt > now()) {
      remember(key, hit);
      return hit.result;
    }
    const entry: Entry = { expiresAt: now() + (opts.ttlMs ?? HOUR_MS), result: load(url) };
    remember(key, entry);
    // Failures are cached too (a dead link is asked about by every reader), but not for as long.
    entry.result.catch(() => {
      entry.expiresAt = Math.min(entry.expiresAt, now() + (opts.failureTtlMs ?? FAILURE_TTL_MS));
    });
    return entry.result;
  }

  return { preview, size: () => cache.size };
}

export type LinkPreviewer = ReturnType<typeof createLinkPreviewer>;

let shared: LinkPreviewer | undefined;

/** The process-wide previewer and its cache (single node; each node of a cluster keeps its own). */
export function linkPreviewer(): LinkPreviewer {
  shared ??= createLinkPreviewer();
  return shared;
}
