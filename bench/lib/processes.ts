import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/core/package-root';
import { builtEntry } from './build';
import { seedMigratedDatabase } from './template';

export const root = packageRoot;

/** Node arguments that run `entry` (a path from the package root): its bundle when built, else tsx. */
export function entryArgs(entry: string, nodeArgs: string[] = []): string[] {
  const built = builtEntry(entry);
  return built ? [...nodeArgs, built] : ['--import', 'tsx', ...nodeArgs, join(root, entry)];
}

/** `--import` of a preload module (a path from the package root), compiled or through tsx. */
export const preloadArgs = (entry: string) => ['--import', builtEntry(entry) ?? join(root, entry)];

/** Forks a load generator (a path from the package root) with an IPC channel. */
export function forkEntry(entry: string): ChildProcess {
  const built = builtEntry(entry);
  return built
    ? fork(built, [], { execArgv: [], stdio: 'inherit' })
    : fork(join(root, entry), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
}

/** `dataDir` is the process's DATA_DIR, so the admin CLI can reach it through `admin.sock`. */
export type Proc = {
  proc: ChildProcess;
  url: string;
  dataDir: string;
  /** The JSON line the process printed when it was ready (Portal's has `ws_port`). */
  ready: Record<string, unknown>;
  stop(): Promise<void>;
};

/**
 * Starts a TypeScript entry as its own process and waits for the JSON line `{"msg":"...listening","url":...}`
 * it prints, so servers under test never share a process with the load generator.
 */
export async function startProcess(
  entry: string,
  env: Record<string, string> = {},
  readyMsg = 'portal listening',
  nodeArgs: string[] = [],
): Promise<Proc> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portal-bench-'));
  if (entry === 'src/main.ts' && !env.DATA_DIR && !env.DATABASE_URL) await seedMigratedDatabase(dataDir);
  const proc = spawn(process.execPath, entryArgs(entry, nodeArgs), {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      WS_PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    let ready = false;
    proc.stdout!.on('data', (d: Buffer) => {
      if (ready) return;
      buf += d.toString();
      for (const line of buf.split('\n')) {
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string } & Record<string, unknown>;
          if (entry.msg === readyMsg && entry.url) {
            ready = true;
            // Stop reading logs into memory; drain them so the child never blocks on a full pipe.
            proc.stdout!.removeAllListeners('data');
            proc.stdout!.resume();
            resolve({
              proc,
              url: entry.url,
              dataDir,
              ready: entry,
              // Idempotent: a second stop (a cleanup after a normal one) resolves at once.
              stop: () =>
                new Promise((ok) => {
                  if (proc.exitCode !== null || proc.signalCode !== null) {
                    rmSync(dataDir, { recursive: true, force: true });
                    ok();
                    return;
                  }
                  proc.once('exit', () => {
                    rmSync(dataDir, { recursive: true, force: true });
                    ok();
                  });
                  proc.kill('SIGTERM');
                }),
            });
          }
        } catch {
          // Partial or non-JSON line.
        }
      }
    });
    proc.once('exit', (code) => {
      if (!ready) reject(new Error(`${entry} exited with ${code} before it was ready`));
    });
  });
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
