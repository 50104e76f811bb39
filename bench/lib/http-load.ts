import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const autocannonBin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

export type LoadResult = {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
};

/** Runs autocannon in its own process against `url` and returns its figures. */
export function httpLoad(
  url: string,
  opts: { seconds: number; connections?: number; pipelining?: number; headers?: Record<string, string> },
): Promise<LoadResult> {
  const args = [
    autocannonBin,
    '--json',
    '--connections',
    String(opts.connections ?? 50),
    '--pipelining',
    String(opts.pipelining ?? 1),
    '--duration',
    String(opts.seconds),
  ];
  for (const [name, value] of Object.entries(opts.headers ?? {})) args.push('--headers', `${name}=${value}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr.resume();
    proc.once('exit', (code) => {
      try {
        const r = JSON.parse(out) as {
          requests: { average: number };
          latency: { p50: number; p99: number };
          non2xx: number;
          errors: number;
        };
        resolve({
          requestsPerSecond: r.requests.average,
          p50Ms: r.latency.p50,
          p99Ms: r.latency.p99,
          non2xx: r.non2xx,
          errors: r.errors,
        });
      } catch {
        reject(new Error(`autocannon exited with ${code} and no JSON result`));
      }
    });
  });
}
