import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildForRun } from './lib/build';
import { entryArgs, root } from './lib/processes';
import { readResults, resultsFile } from './lib/report';
import { resultsTable, targetsTable, writeBenchReadme } from './lib/summary';

// `npm run bench [-- --quick] [-- name-filter]`: runs every bench/*.bench.ts, each in its own
// process, then prints the results table; a full run of every benchmark regenerates bench/README.md.
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const filters = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const failed: string[] = [];
const started = Date.now();
const build = await buildForRun();
console.log(`compiled the benchmarks' processes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
for (const file of files) {
  console.log(`\n# ${file}`);
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [...entryArgs(`bench/${file}`), ...args.filter((a) => a.startsWith('--'))],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) failed.push(file);
  console.log(`(${file}: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
build.remove();
console.log(`\nall benchmarks: ${((Date.now() - started) / 1000).toFixed(1)} s`);
const file = resultsFile(quick);
const results = readResults(file);
console.log(`\n${resultsTable(results)}\n\n${targetsTable(results)}\n`);
if (!quick && filters.length === 0 && failed.length === 0) {
  writeBenchReadme(results, `bench/results/${basename(file)}`);
  console.log('bench/README.md regenerated');
}
if (failed.length) console.error(`failed: ${failed.join(', ')}`);
process.exit(failed.length ? 1 : 0);
