import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { packageRoot } from '../../src/core/package-root';

// Every process a benchmark starts through tsx pays for compiling and resolving some hundred
// modules on each start (about 1.5 s of a Portal start's 4 s on the 2-core reference machine).
// `npm run bench` compiles each entry once per run into one ESM bundle (dependencies stay in
// node_modules, so the code that runs is the code tsx would run) and tells the processes it starts
// where through PORTAL_BENCH_BUILD. A benchmark started alone runs through tsx.

const BUILD_ENV = 'PORTAL_BENCH_BUILD';

/** Entries started as processes: Portal, its admin CLI, baselines, load generators, the benchmarks. */
function entries(): string[] {
  const inDir = (dir: string, keep: (f: string) => boolean) =>
    readdirSync(join(packageRoot, dir))
      .filter(keep)
      .map((f) => `${dir}/${f}`);
  return [
    'src/main.ts',
    'src/cli/main.ts',
    ...inDir('bench/baselines', (f) => f.endsWith('.ts')),
    ...inDir('bench/lib', (f) => f.endsWith('.ts')),
    ...inDir('bench', (f) => f.endsWith('.bench.ts')),
  ];
}

/** Compiles every entry into `node_modules/.cache/portal-bench/<pid>` and exports its location. */
export async function buildForRun(): Promise<{ dir: string; remove(): void }> {
  const dir = join(packageRoot, 'node_modules', '.cache', 'portal-bench', String(process.pid));
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: entries().map((e) => join(packageRoot, e)),
    outbase: packageRoot,
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  process.env[BUILD_ENV] = dir;
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The compiled bundle of `entry` (a path from the package root) when this run built one. */
export function builtEntry(entry: string): string | undefined {
  const dir = process.env[BUILD_ENV];
  if (!dir) return undefined;
  const file = join(dir, entry.replace(/\.ts$/, '.mjs'));
  return existsSync(file) ? file : undefined;
}
