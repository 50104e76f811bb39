import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromPackageRoot } from '../../src/core/package-root';
import { openDatabase } from '../../src/db/client';

// A fresh embedded database costs every Portal start about 2.5 s of migrations; benchmarks start
// many. The migrated database is built once per migration set (cached in the temp directory) and
// copied into each new DATA_DIR, which is what a Portal restarted on its own data would open.

const journal = fromPackageRoot('src', 'db', 'migrations', 'meta', '_journal.json');

function templateDir(): string {
  const hash = createHash('sha256').update(readFileSync(journal)).digest('hex').slice(0, 16);
  return join(tmpdir(), `portal-bench-template-${hash}`);
}

async function ensureTemplate(): Promise<string> {
  const dir = templateDir();
  if (existsSync(join(dir, 'pgdata'))) return dir;
  const building = mkdtempSync(join(tmpdir(), 'portal-bench-template-building-'));
  const database = await openDatabase({ dataDir: building });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  try {
    renameSync(building, dir);
  } catch {
    // Another run built it meanwhile.
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}

/** Copies the migrated embedded database into `dataDir` (which must not hold one yet). */
export async function seedMigratedDatabase(dataDir: string): Promise<void> {
  const template = await ensureTemplate();
  cpSync(join(template, 'pgdata'), join(dataDir, 'pgdata'), { recursive: true });
}
