// Path patterns for WebSocket routes: literal segments and `:name` parameters. A literal segment
// beats a parameter at the same position whatever the registration order, so `/ws/user-connection/:id`
// is never swallowed by `/ws/:plugin/:serviceId`.

type Segment = { literal: string } | { param: string };

type Entry<T> = { pattern: string; segments: Segment[]; rank: number[]; order: number; value: T };

export type RouteMatch<T> = { pattern: string; value: T; params: Record<string, string> };

export type RouteMatcher<T> = {
  add(pattern: string, value: T): void;
  match(path: string): RouteMatch<T> | null;
  values(): T[];
};

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function compilePattern(pattern: string): Segment[] {
  if (!pattern.startsWith('/')) throw new Error(`Route pattern must start with "/": ${pattern}`);
  const seen = new Set<string>();
  return pattern
    .slice(1)
    .split('/')
    .map((part) => {
      if (!part.startsWith(':')) return { literal: part };
      const name = part.slice(1);
      if (!PARAM_NAME.test(name)) throw new Error(`Invalid parameter "${part}" in route pattern ${pattern}`);
      if (seen.has(name)) throw new Error(`Duplicate parameter "${part}" in route pattern ${pattern}`);
      seen.add(name);
      return { param: name };
    });
}

/** Lexicographic order of these arrays puts more specific patterns first. */
const rankOf = (segments: Segment[]) => segments.map((s) => ('literal' in s ? 0 : 1));

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

function matchEntry<T>(entry: Entry<T>, parts: string[]): Record<string, string> | null {
  if (parts.length !== entry.segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = entry.segments[i]!;
    const part = parts[i]!;
    if ('literal' in seg) {
      if (seg.literal !== part) return null;
      continue;
    }
    const value = part === '' ? null : decode(part);
    if (value === null) return null;
    params[seg.param] = value;
  }
  return params;
}

export function createRouteMatcher<T>(): RouteMatcher<T> {
  const entries: Entry<T>[] = [];
  return {
    add(pattern, value) {
      if (entries.some((e) => e.pattern === pattern)) throw new Error(`Route already registered: ${pattern}`);
      const segments = compilePattern(pattern);
      entries.push({ pattern, segments, rank: rankOf(segments), order: entries.length, value });
      entries.sort((a, b) => compareRank(a.rank, b.rank) || a.order - b.order);
    },
    match(path) {
      if (!path.startsWith('/')) return null;
      const parts = path.slice(1).split('/');
      for (const entry of entries) {
        const params = matchEntry(entry, parts);
        if (params) return { pattern: entry.pattern, value: entry.value, params };
      }
      return null;
    },
    values: () => entries.map((e) => e.value),
  };
}
