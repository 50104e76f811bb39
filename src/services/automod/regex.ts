import { RE2JS, RE2JSSyntaxException } from 're2js';

// Regex rules run on RE2JS, a JavaScript port of RE2: matching takes time linear in the message
// and never backtracks, so a pattern like `(a+)+$` cannot stall the event loop the way it would
// on the built-in engine (backreferences and lookaround, which need backtracking, are refused).
// Linear is not free: a pattern's cost grows with the size of its compiled program (`.{0,1000}x`
// is 2,000 instructions), so patterns are capped in length, number and program size, which bounds
// the work per rule; matching runs on a worker thread with a deadline (regex-runner.ts).

/** Instructions of one rule's patterns together (`.{0,100}x$` is about 200). */
export const PROGRAM_MAX = 1_000;

type Compiled = { pattern: RE2JS; size: number };

/** RE2JS keeps the compiled program on an internal field; without it the size check is skipped. */
function programSize(p: RE2JS): number {
  const internal = p as unknown as { re2Input?: { prog?: { numInst?: () => number } } };
  return internal.re2Input?.prog?.numInst?.() ?? 0;
}

function compileOne(source: string, caseSensitive: boolean): Compiled {
  const pattern = RE2JS.compile(source, caseSensitive ? 0 : RE2JS.CASE_INSENSITIVE);
  return { pattern, size: programSize(pattern) };
}

const syntaxText = (err: unknown) =>
  err instanceof RE2JSSyntaxException ? err.message.replace(/^error parsing regexp: /, '') : String(err);

/**
 * Why a rule's patterns cannot be used, or null. They are matched as one alternation (one pass
 * over the text for all of them) by the worker of regex-runner.ts, which compiles them the same way.
 */
export function regexProblem(patterns: string[], caseSensitive: boolean): string | null {
  for (const [i, source] of patterns.entries()) {
    let compiled: Compiled;
    try {
      compiled = compileOne(source, caseSensitive);
    } catch (err) {
      return `Pattern ${i + 1} is not a valid regular expression (RE2 syntax; no backreferences or lookaround): ${syntaxText(err)}`;
    }
    if (compiled.size > PROGRAM_MAX) return `Pattern ${i + 1} is too complex (use smaller repetition counts)`;
  }
  const all = compileOne(patterns.map((p) => `(?:${p})`).join('|'), caseSensitive);
  return all.size > PROGRAM_MAX
    ? 'The patterns are too complex together (split them into several rules)'
    : null;
}
