// The worker thread of services/automod/regex-runner.ts (plain JavaScript, so that Node loads it
// as it is under tsx and vitest alike). It compiles each rule's patterns once per rule version and
// answers, for one message, which rules match and with which pattern.
import { parentPort } from 'node:worker_threads';
import { RE2JS } from 're2js';

const CACHE_MAX = 500;
const compiled = new Map();

function compile(rule) {
  const flags = rule.caseSensitive ? 0 : RE2JS.CASE_INSENSITIVE;
  const each = rule.patterns.map((p) => RE2JS.compile(p, flags));
  const all = RE2JS.compile(rule.patterns.map((p) => `(?:${p})`).join('|'), flags);
  if (compiled.size >= CACHE_MAX) compiled.clear();
  const entry = { all, each };
  compiled.set(rule.key, entry);
  return entry;
}

parentPort.on('message', ({ id, rules, text }) => {
  const hits = [];
  const failed = [];
  for (const rule of rules) {
    try {
      const c = compiled.get(rule.key) ?? compile(rule);
      if (c.all.matcher(text).find())
        hits.push({ key: rule.key, index: c.each.findIndex((p) => p.matcher(text).find()) });
    } catch {
      failed.push(rule.key);
    }
  }
  parentPort.postMessage({ id, hits, failed });
});
