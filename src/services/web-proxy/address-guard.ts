import { AppError } from '../../core/errors';
import { NOT_ALLOWED } from '../link-preview/safe-fetch';
import type { HostCheck } from '../rooms/browser/network-guard';
import { checkPublic, hostsAwareLookup, loopbackOnly } from '../webhooks/target-guard';

// Where a browser-mode connection may go: public addresses only, decided after DNS resolution
// (every address of the name must be public, so a name with one private answer is refused) and
// for every request, redirects included. The request then connects to exactly the address that
// was checked, so a second DNS answer (rebinding) never gets a say. Backend-mode connections go
// where their owner pointed them, like the SSH and TCP relays.

export type Destination = { address: string; family: 4 | 6 };

export type AddressGuardConfig = {
  /** PROXY_TEST_HOSTS_FILE: `address name…` lines read before DNS. */
  hostsFile?: string | undefined;
  /** PROXY_TEST_LOOPBACK_PORTS: loopback on these ports counts as public (tests only). */
  loopbackPorts?: ReadonlySet<number>;
};

export function createAddressGuard(config: AddressGuardConfig = {}) {
  const lookup = hostsAwareLookup(config.hostsFile);
  const testPorts = config.loopbackPorts ?? new Set<number>();

  async function check(url: URL): Promise<HostCheck> {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    return (testPorts.has(port) && (await loopbackOnly(host, lookup))) || checkPublic(host, lookup);
  }

  return {
    /** The address to connect to for `url`; 403 for non-public ones, 502 when the name does not resolve. */
    async destination(url: URL): Promise<Destination> {
      const result = await check(url);
      if (result.ok) return { address: result.address, family: result.family };
      if (result.reason === 'private')
        throw new AppError('FORBIDDEN', NOT_ALLOWED, { reason: 'address_not_allowed' });
      throw new AppError('BAD_GATEWAY', `Could not resolve ${url.hostname}`);
    },
  };
}

export type AddressGuard = ReturnType<typeof createAddressGuard>;

export const addressGuardOf = (env: {
  PROXY_TEST_HOSTS_FILE?: string | undefined;
  PROXY_TEST_LOOPBACK_PORTS?: string | undefined;
}) =>
  createAddressGuard({
    hostsFile: env.PROXY_TEST_HOSTS_FILE,
    loopbackPorts: new Set((env.PROXY_TEST_LOOPBACK_PORTS ?? '').split(',').filter(Boolean).map(Number)),
  });
