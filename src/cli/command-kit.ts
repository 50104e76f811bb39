import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { type Command, InvalidArgumentError } from 'commander';
import type { AdminRouter } from '../routers/admin/router';

// What every admin command shares: `--json` and `--as`, typed calls into the admin router, and the
// argument parsers. `main.ts` supplies `execute`, which knows where calls go and how to print.

type Inputs = inferRouterInputs<AdminRouter>;
type Outputs = inferRouterOutputs<AdminRouter>;
type Group = keyof Inputs & keyof Outputs & string;
type Procedure<G extends Group> = keyof Inputs[G] & keyof Outputs[G] & string;

/** Calls `admin.<group>.<procedure>` with the types of the router. */
export type AdminCall = <G extends Group, P extends Procedure<G>>(
  group: G,
  procedure: P,
  input: Inputs[G][P],
) => Promise<Outputs[G][P]>;

export type CommonOptions = { json?: boolean; as?: string };

/** Runs one command and prints its result: one JSON object with `--json`, else `human(result)`. */
export type Execute = <T>(
  options: CommonOptions,
  work: (call: AdminCall) => Promise<T>,
  human: (result: T) => string,
) => Promise<void>;

/** A subcommand with the options every admin command takes (API.md §10). */
export const leaf = (parent: Command, spec: string, description: string) =>
  parent
    .command(spec)
    .description(description)
    .option('--json', 'print one JSON object on stdout (the error object on failure)')
    .option('--as <username>', 'run as this Admin/Owner (default: the built-in system owner)');

export function parseWholeNumber(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

const LEVEL_WORDS: Record<string, number> = { user: 0, admin: 2, owner: 3 };

/** `0|2|3`, or the level's name; the router decides which levels exist. */
export function parseLevel(value: string): number {
  const word = LEVEL_WORDS[value.trim().toLowerCase()];
  return word ?? parseWholeNumber(value);
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
