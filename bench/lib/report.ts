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

/** Prints one line per figure with its ratio to the baseline, and appends it to today's results file. */
export function report(bench: string, figures: Figure[]) {
  for (const f of figures) {
    const ratio = f.baseline
      ? ` | ${f.baseline.name}: ${fmt(f.baseline.value)} ${f.unit} | ratio ${(f.value / f.baseline.value).toFixed(2)}`
      : '';
    console.log(`${bench} ${f.name}: ${fmt(f.value)} ${f.unit}${ratio}`);
  }
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().slice(0, 10)}.json`);
  let results: Record<string, unknown> = {};
  try {
    results = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // First benchmark of the day.
  }
  results.machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  results[bench] = { quick: isQuick, at: new Date().toISOString(), figures };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));
