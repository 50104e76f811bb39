import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client';
import * as schema from '../../src/db/schema';
import { createApiKey } from '../../src/services/auth/api-keys';
import { resolveCredentials } from '../../src/services/auth/resolve';
import { createSession } from '../../src/services/auth/sessions';
import { createUser } from '../../src/services/users/accounts';

// API.md §1 / issue: a session lookup (cookie or Bearer) costs no more than one indexed query.

const client = new PGlite();
let queries: string[] = [];
const db = drizzle(client, { schema, logger: { logQuery: (q) => queries.push(q) } }) as unknown as Db;
const secretKey = Buffer.alloc(32, 7);

beforeAll(async () => {
  await migrate(db as never, {
    migrationsFolder: new URL('../../src/db/migrations', import.meta.url).pathname,
  });
});
afterAll(() => client.close());

describe('credential lookup cost', () => {
  it('resolves a cookie, a Bearer token, a JWT and an API key with one query each', async () => {
    const user = await createUser(db, { username: 'lookup_user', password: 'long enough' });
    const { token, jwt } = await createSession(db, secretKey, { user, method: 'password' });
    const { key } = await createApiKey(db, { userId: user.id, name: 'k', scopes: '*', expiresInDays: null });
    // Mark the key as recently used so the off-path last-used write does not run here.
    await db.update(schema.apiKeys).set({ lastUsedAt: new Date() });

    const cases = {
      cookie: { cookie: token },
      bearer: { bearer: token },
      jwt: { bearer: jwt },
      apiKey: { bearer: key },
    };
    for (const [name, creds] of Object.entries(cases)) {
      queries = [];
      const auth = await resolveCredentials(db, secretKey, { ...creds, ip: '127.0.0.1' });
      expect(auth.actor?.kind, name).toBe('user');
      expect(queries, name).toHaveLength(1);
    }
  });

  it('uses indexes for those lookups', async () => {
    await db.execute(sql`set enable_seqscan = off`);
    const plans = [
      sql`explain select * from sessions inner join users on users.id = sessions.user_id where sessions.token_hash = 'x' and sessions.expires_at > now()`,
      sql`explain select * from sessions inner join users on users.id = sessions.user_id where sessions.id = 'x'`,
      sql`explain select * from api_keys inner join users on users.id = api_keys.user_id where api_keys.key_hash = 'x'`,
    ];
    for (const plan of plans) {
      const rows = (await db.execute(plan)) as unknown as { rows: Array<{ 'QUERY PLAN': string }> };
      const text = rows.rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(text).toMatch(/Index Scan|Index Only Scan/);
      expect(text).not.toMatch(/Seq Scan on (sessions|api_keys)/);
    }
  });
});
