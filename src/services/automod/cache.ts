import { asc, eq } from 'drizzle-orm';
import type { Bus } from '../../core/bus/types';
import type { Db } from '../../db/client';
import { automodRules } from '../../db/schema';
import { checkCaps, checkInvites, checkLinks, checkMentions, type Hit, wordMatcher } from './detectors';
import type { RegexJob } from './regex-runner';
import { type AutomodKind, CONFIG_SCHEMAS } from './schemas';

// The enabled rules, compiled once and kept per database: every message is checked against them,
// so they are not read from the database each time. A change on any node (or by the admin CLI)
// is announced on the Bus and drops every node's copy; the time limit covers a missed
// announcement (a Redis outage).

type RuleRow = typeof automodRules.$inferSelect;

export type CompiledRule = {
  row: RuleRow;
  /** Content kinds: what the text breaks, if anything. */
  check?: (text: string) => Hit | null;
  /** `regex`: matched on the worker thread (regex-runner.ts). */
  regex?: RegexJob;
  /** `flood`: counted by the evaluator across messages. */
  flood?: { maxRepeats: number; windowMs: number };
};

const TOPIC = 'automod:rules';
const TTL_MS = 10_000;

type Entry = { rules: Promise<CompiledRule[]>; at: number; generation: number };
const cache = new WeakMap<Db, Entry>();
const listening = new WeakSet<Bus>();
let generation = 0;

function compile(row: RuleRow): CompiledRule {
  const kind = row.kind as AutomodKind;
  const content = (check: (text: string) => Hit | null): CompiledRule => ({ row, check });
  switch (kind) {
    case 'words': {
      const match = wordMatcher(CONFIG_SCHEMAS.words.parse(row.config).words);
      return content((text) => {
        const word = match(text);
        return word === null ? null : { what: 'it contains a blocked word', evidence: { word } };
      });
    }
    case 'regex': {
      // Parsing checks the patterns again (regex.ts), so a bad row is skipped here, not in the worker.
      const config = CONFIG_SCHEMAS.regex.parse(row.config);
      const key = `${row.id}:${row.updatedAt.getTime()}`;
      return { row, regex: { key, patterns: config.patterns, caseSensitive: config.case_sensitive } };
    }
    case 'links': {
      const config = CONFIG_SCHEMAS.links.parse(row.config);
      return content((text) => checkLinks(text, config));
    }
    case 'invites': {
      const config = CONFIG_SCHEMAS.invites.parse(row.config);
      return content((text) => checkInvites(text, config));
    }
    case 'mentions': {
      const config = CONFIG_SCHEMAS.mentions.parse(row.config);
      return content((text) => checkMentions(text, config));
    }
    case 'caps': {
      const config = CONFIG_SCHEMAS.caps.parse(row.config);
      return content((text) => checkCaps(text, config));
    }
    case 'flood': {
      const config = CONFIG_SCHEMAS.flood.parse(row.config);
      return { row, flood: { maxRepeats: config.max_repeats, windowMs: config.window_seconds * 1000 } };
    }
  }
}

async function load(db: Db, log: { warn(obj: object, msg?: string): void }) {
  const rows = await db
    .select()
    .from(automodRules)
    .where(eq(automodRules.enabled, true))
    .orderBy(asc(automodRules.id));
  const rules: CompiledRule[] = [];
  for (const row of rows) {
    try {
      rules.push(compile(row));
    } catch (err) {
      // Only a row changed behind the admin router's back gets here; the other rules still run.
      log.warn({ err, rule_id: row.id }, 'automod rule skipped: its settings are invalid');
    }
  }
  return rules;
}

async function listen(bus: Bus, log: { warn(obj: object, msg?: string): void }) {
  if (listening.has(bus)) return;
  listening.add(bus);
  try {
    await bus.subscribe(TOPIC, () => {
      generation++;
    });
  } catch (err) {
    listening.delete(bus);
    log.warn({ err }, 'automod rule changes not subscribed; rules refresh every 10 s');
  }
}

export async function compiledRules(deps: {
  db: Db;
  bus: Bus;
  log: { warn(obj: object, msg?: string): void };
}) {
  await listen(deps.bus, deps.log);
  const held = cache.get(deps.db);
  if (held && held.generation === generation && Date.now() - held.at < TTL_MS) return held.rules;
  const entry: Entry = { rules: load(deps.db, deps.log), at: Date.now(), generation };
  cache.set(deps.db, entry);
  entry.rules.catch(() => cache.delete(deps.db));
  return entry.rules;
}

/** After a change: this node drops its copy at once, the others when the Bus message arrives. */
export async function forgetCompiledRules(db: Db, bus: Bus) {
  cache.delete(db);
  generation++;
  await bus.publish(TOPIC, { changed: true }).catch(() => {});
}
