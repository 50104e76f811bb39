import { RE2JS, RE2JSSyntaxException } from 're2js';

// Regex rules run on RE2JS, a JavaScript port of RE2: matching takes time linear in the message
// and never backtracks, so a pattern like `(a+)+$` cannot stall the event loop the way it would
// on the built-in engine (backreferences and lookaround, which need backtracking, are refused).
// Linear is not free: a pattern's cost grows with the size of its compiled program (`.{0,1000}x`
// is 2,000 instructions), so patterns are capped in length, number and program size, which bounds
// the work per message (docs/moderation.md).

/** Instructions of one rule's patterns together (`.{0,100}x$` is about 200). */
export const PROGRAM_MAX = 1_000;

export type RuleRegex = {
  /** Whether any pattern matches somewhere in `text`. */
  test(text: string): boolean;
  /** The first pattern (index) that matches, for the audit entry. */
  which(text: string): number;
};

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
 * Compiles a rule's patterns into one alternation (one pass over the text for all of them), or
 * explains the first pattern that cannot be used.
 */
export function compileRuleRegex(
  patterns: string[],
  caseSensitive: boolean,
): { regex: RuleRegex; error?: undefined } | { regex?: undefined; error: string } {
  const each: Compiled[] = [];
  for (const [i, source] of patterns.entries()) {
    try {
      each.push(compileOne(source, caseSensitive));
    } catch (err) {
      return {
        error: `Pattern ${i + 1} is not a valid regular expression (RE2 syntax; no backreferences or lookaround): ${syntaxText(err)}`,
      };
    }
    if (each[i]!.size > PROGRAM_MAX)
      return { error: `Pattern ${i + 1} is too complex (use smaller repetition counts)` };
  }
  const all = compileOne(patterns.map((p) => `(?:${p})`).join('|'), caseSensitive);
  if (all.size > PROGRAM_MAX)
    return { error: 'The patterns are too complex together (split them into several rules)' };
  return {
    regex: {
      test: (text) => all.pattern.matcher(text).find(),
      which: (text) => each.findIndex((c) => c.pattern.matcher(text).find()),
    },
  };
}
