import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { root } from './processes';

export type Figure = {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
};

export const isQuick = process.argv.includes('--quick');

export const resultsDir = join(root, 'bench', 'results');

/** Full runs go to `<date>.json` (committed, summarised in bench/README.md); quick runs to `<date>-quick.json`. */
export const resultsFile = (quick = isQuick, date = new Date()) =>
  join(resultsDir, `${date.toISOString().slice(0, 10)}${quick ? '-quick' : ''}.json`);

export type Results = {
  machine?: { cpus: number; cpu?: string; memory_gib: number; node: string };
  benchmarks?: Record<string, { quick: boolean; at: string; figures: Figure[] }>;
};

export const machine = () => ({
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  memory_gib: Math.round(totalmem() / 2 ** 30),
  node: process.version,
});

export function readResults(file: string): Results {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Results;
  } catch {
    return {};
  }
}

export const formatNumber = (n: number) =>
  Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);

/** No ratio against a baseline at or below zero: such a baseline is below the measurement's noise. */
export const ratioOf = (f: Figure) =>
  f.baseline && f.baseline.value > 0 ? f.value / f.baseline.value : undefined;

/** Prints one line per figure with its ratio to the baseline, and records it in the run's results file. */
export function report(bench: string, figures: Figure[]) {
  for (const f of figures) {
    const ratio = ratioOf(f);
    const against = f.baseline
      ? ` | ${f.baseline.name}: ${formatNumber(f.baseline.value)} ${f.unit} | ratio ${ratio?.toFixed(2) ?? 'n/a'}`
      : '';
    console.log(`${bench} ${f.name}: ${formatNumber(f.value)} ${f.unit}${against}`);
  }
  mkdirSync(resultsDir, { recursive: true });
  const file = resultsFile();
  const results = readResults(file);
  results.machine = machine();
  results.benchmarks = {
    ...results.benchmarks,
    [bench]: { quick: isQuick, at: new Date().toISOString(), figures },
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}
