import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib/processes';

// `npm run bench [-- --quick] [-- name-filter]`: runs every bench/*.bench.ts, each in its own process.
const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n# ${file}`);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join('bench', file), ...args.filter((a) => a.startsWith('--'))],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) failed += 1;
}
process.exit(failed ? 1 : 0);
