import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testEnvVars } from './env';

const root = fileURLToPath(new URL('../..', import.meta.url));

export type SpawnedServer = {
  proc: ChildProcess;
  url: string;
  /** Parsed JSON log lines seen so far. */
  logs: Array<Record<string, unknown>>;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
};

/**
 * Runs a server entry (src/main.ts by default) as its own process, the way `npm start` does, and
 * resolves once it logs that it is listening.
 */
export function spawnServer(
  env: Record<string, string | undefined>,
  opts: { entry?: string; timeoutMs?: number } = {},
): Promise<SpawnedServer> {
  const entry = opts.entry ?? 'src/main.ts';
  const proc = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...testEnvVars({ LOG_LEVEL: 'info', ...env }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffered = '';
  const exited = new Promise<number | string>((ok) =>
    proc.once('exit', (code, signal) => ok(code ?? signal ?? 'unknown')),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in time; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    proc.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'portal listening') {
            clearTimeout(timer);
            resolve({
              proc,
              url: String(entry.url),
              logs,
              stderr: () => stderr,
              exited,
              kill: (signal = 'SIGTERM') => {
                proc.kill(signal);
                return exited;
              },
            });
          }
        } catch {
          // Not a JSON log line.
        }
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening; stderr: ${stderr}`));
    });
  });
}

/** Runs a command to completion and returns its exit code and output. */
export function runToExit(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, args, {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
