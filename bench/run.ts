import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { root } from './lib/processes';
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
for (const file of files) {
  console.log(`\n# ${file}`);
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join('bench', file), ...args.filter((a) => a.startsWith('--'))],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) failed.push(file);
  console.log(`(${file}: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
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
