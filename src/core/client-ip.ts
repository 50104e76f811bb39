import proxyaddr from 'proxy-addr';

export type ClientIpResolver = (remoteAddress: string, forwardedFor: string | undefined) => string;

/**
 * TRUST_PROXY semantics shared by express and the WebSocket transport: unset trusts nobody,
 * a number trusts that many hops, anything else is a comma-separated list of addresses/CIDRs.
 */
export function compileTrustProxy(trustProxy: string | undefined): (addr: string, i: number) => boolean {
  if (!trustProxy) return () => false;
  if (/^\d+$/.test(trustProxy)) {
    const hops = Number(trustProxy);
    return (_addr, i) => i < hops;
  }
  return proxyaddr.compile(
    trustProxy
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

export function createClientIpResolver(trustProxy: string | undefined): ClientIpResolver {
  const trust = compileTrustProxy(trustProxy);
  return (remoteAddress, forwardedFor) => {
    const fake = {
      connection: { remoteAddress },
      socket: { remoteAddress },
      headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
    };
    return normalizeIp(proxyaddr(fake as never, trust));
  };
}

/** "::ffff:127.0.0.1" and "127.0.0.1" are the same client for limits and logs. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
