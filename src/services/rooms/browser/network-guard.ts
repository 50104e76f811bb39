import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

// Which addresses a room's browser may connect to. A shared browser driven by any room member is
// a server-side request forgery tool unless it is kept off loopback, private and link-local
// networks (the portal itself, its database and cloud metadata endpoints live there).

/** [first address, prefix length] of IPv4 ranges that are not the public internet. */
const IPV4_BLOCKED: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

const ipv4ToInt = (ip: string) => ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);

const IPV4_RANGES = IPV4_BLOCKED.map(([base, bits]) => ({
  base: ipv4ToInt(base),
  size: 2 ** (32 - bits),
}));

function isPublicIpv4(ip: string): boolean {
  const n = ipv4ToInt(ip);
  return !IPV4_RANGES.some((r) => n >= r.base && n < r.base + r.size);
}

/** The eight 16-bit groups of an IPv6 address (embedded dotted IPv4 tails included). */
function ipv6Groups(ip: string): number[] | undefined {
  let text = ip.split('%')[0] ?? '';
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted) {
    const n = ipv4ToInt(dotted);
    text = `${text.slice(0, -dotted.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (s: string) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  const groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

const groupsToIpv4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;

function isPublicIpv6(ip: string): boolean {
  const g = ipv6Groups(ip);
  if (!g) return false;
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d all start with 96 zero bits.
  if (zeroTo(6)) return false;
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-translated (::ffff:0:a.b.c.d) reach IPv4 hosts.
  if (zeroTo(5) && g5 === 0xffff) return isPublicIpv4(groupsToIpv4(g6, g7));
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return isPublicIpv4(groupsToIpv4(g6, g7));
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 destination too.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return isPublicIpv4(groupsToIpv4(g6, g7));
  }
  if (g0 === 0x2002) return isPublicIpv4(groupsToIpv4(g1, g2));
  if ((g0 & 0xfe00) === 0xfc00) return false; // unique-local fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return false; // link-local fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return false; // deprecated site-local fec0::/10
  if ((g0 & 0xff00) === 0xff00) return false; // multicast
  if (g0 === 0x2001 && g1 === 0x0db8) return false; // documentation
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return false; // discard-only 100::/64
  return true;
}

/** True when `ip` is a literal address on the public internet; anything unparsable is not. */
export function isPublicAddress(ip: string): boolean {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = isIP(bare.split('%')[0] ?? '');
  if (family === 4) return isPublicIpv4(bare);
  if (family === 6) return isPublicIpv6(bare);
  return false;
}

export type HostCheck =
  | { ok: true; address: string; family: 4 | 6 }
  | { ok: false; reason: 'private' | 'unresolved' };

export type HostResolver = (hostname: string) => Promise<HostCheck>;

const CACHE_MS = 30_000;
const FAILURE_CACHE_MS = 5_000;
const CACHE_MAX = 2_000;

/**
 * Resolves a hostname and refuses it when any of its addresses is not public (a name with one
 * private address is how DNS rebinding starts). The answer carries the checked address, so the
 * caller connects to exactly what was checked rather than resolving again.
 */
export function createHostResolver(
  resolve: (host: string) => Promise<Array<{ address: string; family: number }>> = (host) =>
    lookup(host, { all: true, verbatim: true }),
): HostResolver {
  const cache = new Map<string, { at: number; result: Promise<HostCheck> }>();

  async function check(host: string): Promise<HostCheck> {
    const literal = host.startsWith('[') ? host.slice(1, -1) : host;
    if (isIP(literal)) {
      if (!isPublicAddress(literal)) return { ok: false, reason: 'private' };
      return { ok: true, address: literal, family: isIP(literal) === 6 ? 6 : 4 };
    }
    let addresses: Array<{ address: string; family: number }>;
    try {
      addresses = await resolve(literal);
    } catch {
      return { ok: false, reason: 'unresolved' };
    }
    if (addresses.length === 0) return { ok: false, reason: 'unresolved' };
    if (addresses.some((a) => !isPublicAddress(a.address))) return { ok: false, reason: 'private' };
    const first = addresses[0]!;
    return { ok: true, address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  return (hostname) => {
    const host = hostname.toLowerCase().replace(/\.$/, '');
    const now = Date.now();
    const hit = cache.get(host);
    if (hit && now - hit.at < CACHE_MS) return hit.result;
    if (cache.size >= CACHE_MAX) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    const result = check(host);
    cache.delete(host);
    cache.set(host, { at: now, result });
    // Failed lookups are retried sooner: a name that did not resolve may just have been slow.
    void result.then((r) => {
      if (!r.ok && r.reason === 'unresolved') {
        const entry = cache.get(host);
        if (entry?.result === result) entry.at = now - CACHE_MS + FAILURE_CACHE_MS;
      }
    });
    return result;
  };
}
