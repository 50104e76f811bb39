import { LinkifyIt } from 'linkify-it';
import { MENTION } from '../chat/mentions';
import type { AutomodConfig } from './schemas';

// The content checks of auto-moderation, one per rule kind: pure functions of the message text and
// the rule's settings. A hit says what was found, in words for the sender and the audit log, with
// evidence from the rule's side only (the listed word, the pattern, counts): message text is
// stored sealed, so the audit log never quotes it.

export type Hit = { what: string; evidence: Record<string, unknown> };

const linkify = new LinkifyIt({ fuzzyLink: true, fuzzyIP: true, fuzzyEmail: false })
  // Common generic TLDs beyond linkify's default list, so `spam.xyz` counts as a link.
  .tlds(['app', 'dev', 'xyz', 'online', 'site', 'top', 'club', 'shop', 'live', 'store', 'link', 'gg'], true);

/** Hosts of the http(s) and protocol-relative links in `text` (fuzzy ones like `evil.com/x` too). */
export function linkHosts(text: string): string[] {
  const hosts: string[] = [];
  for (const m of linkify.match(text) ?? []) {
    if (m.schema === 'mailto:') continue;
    try {
      hosts.push(new URL(m.url.startsWith('//') ? `http:${m.url}` : m.url).hostname.toLowerCase());
    } catch {
      // linkify accepted something URL() does not: not a link a browser would follow.
    }
  }
  return hosts;
}

const under = (host: string, domain: string) => host === domain || host.endsWith(`.${domain}`);

/** Links to other communities: the host alone, or the host and a path prefix. */
const INVITES: { host: string; path?: RegExp }[] = [
  { host: 'discord.gg' },
  { host: 'discord.com', path: /^\/invite\//i },
  { host: 'discordapp.com', path: /^\/invite\//i },
  { host: 't.me', path: /^\/(joinchat\/|\+)/i },
  { host: 'telegram.me', path: /^\/(joinchat\/|\+)/i },
  { host: 'chat.whatsapp.com' },
  { host: 'join.slack.com' },
  { host: 'guilded.gg', path: /^\/i\//i },
  { host: 'rvlt.gg' },
  { host: 'matrix.to' },
];

function invitesIn(text: string, extraHosts: string[]): string[] {
  const found: string[] = [];
  for (const m of linkify.match(text) ?? []) {
    let url: URL;
    try {
      url = new URL(m.url.startsWith('//') ? `http:${m.url}` : m.url);
    } catch {
      continue;
    }
    const host = url.hostname.toLowerCase();
    const known = INVITES.some((i) => under(host, i.host) && (!i.path || i.path.test(url.pathname)));
    if (known || extraHosts.some((h) => under(host, h))) found.push(host);
  }
  return found;
}

/** Letters and digits of any script, lower-cased, every run of anything else one space. */
const wordsOf = (text: string) =>
  text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}_]+/u)
    .filter(Boolean)
    .join(' ');

/**
 * A word list: case-insensitive, on word boundaries of any script, `*` at an end lifting the
 * boundary there; a listed phrase ("free money") matches those words in a row. Plain substring
 * searches over the normalised text: no regular expression, so no backtracking, and the work is
 * at most words × text length.
 */
export function wordMatcher(words: string[]) {
  const needles = words.map((w) => {
    const core = wordsOf(w.replace(/^\*|\*$/g, ''));
    return { word: w, needle: `${w.startsWith('*') ? '' : ' '}${core}${w.endsWith('*') ? '' : ' '}` };
  });
  return (text: string): string | null => {
    const haystack = ` ${wordsOf(text)} `;
    return needles.find((n) => haystack.includes(n.needle))?.word ?? null;
  };
}

export function checkLinks(text: string, config: AutomodConfig<'links'>): Hit | null {
  const blocked = linkHosts(text).filter((h) => !config.allowed_domains.some((d) => under(h, d)));
  return blocked.length ? { what: 'links are not allowed', evidence: { links: blocked.length } } : null;
}

export function checkInvites(text: string, config: AutomodConfig<'invites'>): Hit | null {
  const found = invitesIn(text, config.extra_hosts);
  return found.length ? { what: 'invite links are not allowed', evidence: { invites: found.length } } : null;
}

export function checkMentions(text: string, config: AutomodConfig<'mentions'>): Hit | null {
  let count = 0;
  for (const _ of text.matchAll(MENTION)) if (++count > config.max_mentions) break;
  return count > config.max_mentions
    ? { what: `too many mentions (at most ${config.max_mentions})`, evidence: { mentions: count } }
    : null;
}

export function checkCaps(text: string, config: AutomodConfig<'caps'>): Hit | null {
  let letters = 0;
  let capitals = 0;
  for (const ch of text) {
    const lower = ch.toLowerCase();
    const upper = ch.toUpperCase();
    if (lower === upper) continue;
    letters++;
    if (ch === upper) capitals++;
  }
  if (letters < config.min_letters) return null;
  const percent = Math.round((capitals / letters) * 100);
  return percent > config.max_percent
    ? { what: 'too many capital letters', evidence: { caps_percent: percent } }
    : null;
}

/** What a flood counter compares: the text without case, accents of width and spacing differences. */
export const floodKeyText = (text: string) =>
  text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
