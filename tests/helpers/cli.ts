import { expect } from 'vitest';
import { testEnvVars } from './env';
import { runToExit } from './spawn';

// The admin CLI as operators run it: `src/cli/main.ts` in its own process with the given
// environment. With --json, stdout must be exactly one JSON object.

export type CliResult = {
  code: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
};

export async function runCli(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  const result = await runToExit(['--import', 'tsx', 'src/cli/main.ts', ...args], testEnvVars(env));
  let json: Record<string, unknown> = {};
  if (args.includes('--json')) {
    const lines = result.stdout.trim().split('\n');
    expect(lines, `stdout of ${args.join(' ')}: ${result.stdout}\nstderr: ${result.stderr}`).toHaveLength(1);
    json = JSON.parse(lines[0]!) as Record<string, unknown>;
  }
  return { ...result, json };
}
