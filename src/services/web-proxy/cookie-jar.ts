import { and, eq } from 'drizzle-orm';
import { Cookie, CookieJar } from 'tough-cookie';
import type { SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { userConnections, webProxyCookieJars } from '../../db/schema';

// Cookies of proxied sites live on the server, one jar per connection (sealed at rest), and never
// reach the user's browser: proxied pages run in an opaque origin where the browser keeps no
// cookies for them, and every site browsed through Portal would otherwise share Portal's own
// cookie space. tough-cookie applies RFC 6265 (domain, path, Secure, expiry) per target URL.

export const MAX_COOKIES_PER_JAR = 1000;
const MAX_COOKIE_BYTES = 8192;

type JarDeps = { db: Db; box: SecretBox };

const parseJar = (box: SecretBox, sealed: string | undefined) => {
  if (!sealed) return new CookieJar();
  try {
    return CookieJar.deserializeSync(box.decrypt(sealed));
  } catch {
    // An unreadable jar (rotated key, corruption) only costs the sites' logins.
    return new CookieJar();
  }
};

export async function loadJar({ db, box }: JarDeps, connectionId: string): Promise<CookieJar> {
  const [row] = await db
    .select({ jar: webProxyCookieJars.jar })
    .from(webProxyCookieJars)
    .where(eq(webProxyCookieJars.connectionId, connectionId));
  return parseJar(box, row?.jar);
}

/** The `Cookie` header for a request to `url`, or undefined when the jar has none for it. */
export function cookieHeaderFor(jar: CookieJar, url: URL): string | undefined {
  const header = jar.getCookieStringSync(url.href);
  return header === '' ? undefined : header;
}

/** Keeps the newest cookies when a jar outgrows its cap, and drops expired ones. */
function pruned(jar: CookieJar): CookieJar {
  const now = Date.now();
  const cookies = (jar.serializeSync()?.cookies ?? [])
    .map((json) => Cookie.fromJSON(json))
    .filter((c): c is Cookie => c !== undefined && (c.expiryTime() ?? Number.POSITIVE_INFINITY) > now);
  if (cookies.length <= MAX_COOKIES_PER_JAR) return jar;
  const created = (c: Cookie) => (c.creation instanceof Date ? c.creation.getTime() : 0);
  cookies.sort((a, b) => created(b) - created(a));
  const fresh = new CookieJar();
  for (const c of cookies.slice(0, MAX_COOKIES_PER_JAR)) {
    fresh.setCookieSync(c, `${c.secure ? 'https' : 'http'}://${c.domain ?? 'localhost'}${c.path ?? '/'}`, {
      ignoreError: true,
    });
  }
  return fresh;
}

/**
 * Stores the `Set-Cookie` headers of a response from `url`. The jar is re-read under a row lock,
 * so concurrent responses of one page (each setting its own cookies) do not undo each other.
 */
export async function storeCookies(
  { db, box }: JarDeps,
  opts: { connectionId: string; userId: number; url: URL; setCookies: string[] },
): Promise<void> {
  const headers = opts.setCookies.filter((h) => h.length <= MAX_COOKIE_BYTES);
  if (headers.length === 0) return;
  await db.transaction(async (tx) => {
    const locked = () =>
      tx
        .select({ jar: webProxyCookieJars.jar })
        .from(webProxyCookieJars)
        .where(eq(webProxyCookieJars.connectionId, opts.connectionId))
        .for('update');
    let [row] = await locked();
    if (!row) {
      // The first cookies of a page often arrive in parallel: one empty row, then everyone queues on it.
      await tx
        .insert(webProxyCookieJars)
        .values({ connectionId: opts.connectionId, userId: opts.userId, jar: '' })
        .onConflictDoNothing();
      [row] = await locked();
    }
    let jar = parseJar(box, row?.jar);
    for (const header of headers)
      jar.setCookieSync(header, opts.url.href, { loose: true, ignoreError: true });
    jar = pruned(jar);
    const sealed = box.encrypt(JSON.stringify(jar.serializeSync()));
    await tx
      .update(webProxyCookieJars)
      .set({ jar: sealed, updatedAt: new Date() })
      .where(eq(webProxyCookieJars.connectionId, opts.connectionId));
  });
}

/** Forgets every cookie of one of the user's connections (the browser page's "clear cookies"). */
export async function clearCookies(opts: { db: Db; userId: number; id: string }): Promise<void> {
  const [owned] = await opts.db
    .select({ id: userConnections.id })
    .from(userConnections)
    .where(and(eq(userConnections.id, opts.id), eq(userConnections.userId, opts.userId)));
  if (!owned) throw new AppError('NOT_FOUND', 'Connection not found');
  await opts.db.delete(webProxyCookieJars).where(eq(webProxyCookieJars.connectionId, opts.id));
}
