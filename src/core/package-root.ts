import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Files that ship beside the code (migrations, page assets, the regex worker) are found from the
// package root rather than from each module's own URL: the same lookups then hold when the code
// runs as a bundle (the benchmarks run Portal pre-compiled, see bench/lib/build.ts).
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'main.ts'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no Portal package root above ${from}`);
  }
}

/** The directory holding Portal's package.json and src/. */
export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, e.g. `fromPackageRoot('src', 'db', 'migrations')`. */
export const fromPackageRoot = (...parts: string[]) => join(packageRoot, ...parts);
