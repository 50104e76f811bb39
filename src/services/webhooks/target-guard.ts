import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { AppError } from '../../core/errors';
import { NOT_ALLOWED } from '../link-preview/safe-fetch';
import { createHostResolver, type HostCheck } from '../rooms/browser/network-guard';

// Where a webhook may deliver: HTTPS on a public address, checked when the URL is saved and again
// at every attempt (the name may point elsewhere by then). The check answers the address it
// approved, and the request connects to exactly that address, so a second DNS answer (rebinding)
// never gets a say. The test-only settings (docs/webhooks.md) let a receiver sit on loopback and
// resolve names from a hosts file; by default neither applies.

export const URL_MAX = 2000;

export type TargetGuardConfig = {
  /** WEBHOOK_TEST_ALLOW_LOOPBACK: names whose every address is loopback are accepted. */
  allowLoopback: boolean;
  /** WEBHOOK_TEST_HOSTS_FILE: `address name…` lines, read at every lookup. */
  hostsFile?: string | undefined;
};

export type CheckedTarget = { url: URL; address: string; family: 4 | 6 };

type Address = { address: string; family: number };

function hostsFileEntries(path: string, host: string): Address[] {
  const found: Address[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address && isIP(address) && names.some((n) => n.toLowerCase() === host)) {
      found.push({ address, family: isIP(address) });
    }
  }
  return found;
}

/**
 * DNS lookups that answer from a hosts-style file first (re-read at every lookup) when a test
 * names one; by default plain DNS.
 */
export function hostsAwareLookup(hostsFile: string | undefined) {
  return async (host: string): Promise<Address[]> => {
    const pinned = hostsFile ? hostsFileEntries(hostsFile, host) : [];
    return pinned.length > 0 ? pinned : lookup(host, { all: true, verbatim: true });
  };
}

export function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return isIP(v4) === 4 ? v4.startsWith('127.') : ip === '::1';
}

const refused = (message: string) => new AppError('BAD_REQUEST', message);

type Lookup = (host: string) => Promise<Address[]>;

/** The check's answer when every address of `host` is loopback (test-only settings), else null. */
export async function loopbackOnly(host: string, lookupAll: Lookup): Promise<HostCheck | null> {
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await lookupAll(host).catch(() => []);
  const first = addresses[0];
  if (!first || !addresses.every((a) => isLoopback(a.address))) return null;
  return { ok: true, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** Public addresses only; a fresh resolver per check, so no answer is reused from an earlier one. */
export const checkPublic = (host: string, lookupAll: Lookup) => createHostResolver(lookupAll)(host);

export function createTargetGuard(config: TargetGuardConfig) {
  const resolveAll = hostsAwareLookup(config.hostsFile);

  async function checkHost(hostname: string): Promise<HostCheck> {
    const host = (hostname.startsWith('[') ? hostname.slice(1, -1) : hostname).toLowerCase();
    return (config.allowLoopback && (await loopbackOnly(host, resolveAll))) || checkPublic(host, resolveAll);
  }

  return {
    /** The URL's syntax only (HTTPS, no credentials): what can be said without DNS. */
    parse(raw: string): URL {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw refused('url must be a valid URL');
      }
      if (url.protocol !== 'https:') throw refused('url must use HTTPS');
      if (url.username || url.password) throw refused('url must not contain credentials');
      return url;
    },

    /** Resolves and checks the URL's host; throws BAD_REQUEST with the reason when refused. */
    async check(raw: string): Promise<CheckedTarget> {
      const url = this.parse(raw);
      const result = await checkHost(url.hostname);
      if (!result.ok) {
        throw refused(result.reason === 'private' ? NOT_ALLOWED : 'url host could not be resolved');
      }
      return { url, address: result.address, family: result.family };
    },
  };
}

export type TargetGuard = ReturnType<typeof createTargetGuard>;

/** The guard as configured (test-only settings included). */
export const targetGuardOf = (env: {
  WEBHOOK_TEST_ALLOW_LOOPBACK: boolean;
  WEBHOOK_TEST_HOSTS_FILE?: string | undefined;
}) =>
  createTargetGuard({
    allowLoopback: env.WEBHOOK_TEST_ALLOW_LOOPBACK,
    hostsFile: env.WEBHOOK_TEST_HOSTS_FILE,
  });
