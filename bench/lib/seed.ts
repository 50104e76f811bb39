import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomToken, sha256Hex } from '../../src/core/crypto';
import { openDatabase } from '../../src/db/client';
import { sessions, users } from '../../src/db/schema';
import { seedMigratedDatabase } from './template';

/**
 * Creates `count` users with one session each in a DATA_DIR before the server starts on it (the
 * embedded database admits one process), and returns their session tokens. Benchmarks with many
 * sockets need many users: the contract caps sockets per user. The first `admins` users are Admins.
 */
export async function seedUsersWithSessions(dataDir: string, count: number, admins = 0): Promise<string[]> {
  if (!existsSync(join(dataDir, 'pgdata'))) await seedMigratedDatabase(dataDir);
  const database = await openDatabase({ dataDir });
  try {
    await database.migrate();
    const tokens: string[] = [];
    const run = randomBytes(3).toString('hex');
    for (let start = 0; start < count; start += 1000) {
      const size = Math.min(1000, count - start);
      const rows = await database.db
        .insert(users)
        .values(
          Array.from({ length: size }, (_, i) => ({
            username: `bench_${run}_${start + i}`,
            ...(start + i < admins && { permissionLevel: 2 }),
          })),
        )
        .returning({ id: users.id });
      const batch = rows.map((row) => {
        const token = randomToken(32);
        tokens.push(token);
        return {
          id: randomBytes(15).toString('base64url'),
          userId: row.id,
          tokenHash: sha256Hex(token),
          tokenSuffix: token.slice(-6),
          method: 'bench',
          expiresAt: new Date(Date.now() + 86_400_000),
        };
      });
      await database.db.insert(sessions).values(batch);
    }
    return tokens;
  } finally {
    await database.close();
  }
}
