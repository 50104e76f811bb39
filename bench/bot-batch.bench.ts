import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Database, openDatabase } from '../src/db/client';
import { botCommands } from '../src/db/schema';
import { recordCommandBatch } from '../src/services/bots/batch';
import { createBot } from '../src/services/bots/bots';
import { entryArgs, median, type Proc, root, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';
import { seedMigratedDatabase } from './lib/template';

// POST /bot/batch with 1000 command reports per request (auth, BOT tier + hourly limit, per-item
// validation, link lookup, one multi-row INSERT in a transaction), driven by autocannon in its own
// process, in items stored per second. Two baselines run in this process, in the same run, on a
// database of the same kind (a fresh embedded one, or BENCH_DATABASE_URL), one call after another:
// the same 1000 rows as a plain multi-row INSERT … VALUES through drizzle (what a straightforward
// implementation would cost), and the endpoint's own service without HTTP (what HTTP, auth and
// rate limits add).

const ITEMS = 1000;
const rounds = isQuick ? 1 : 3;
const seconds = isQuick ? 1 : 8;
const connections = 4;
const secretText = randomBytes(32).toString('hex');
const databaseUrl = process.env.BENCH_DATABASE_URL;

const items = Array.from({ length: ITEMS }, (_, i) => ({
  command: `cmd_${i % 25}`,
  success: i % 10 !== 0,
  latency_ms: (i % 50) + 0.5,
  platform_user_id: `user-${i % 200}`,
}));

const autocannonBin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** autocannon in its own process, POSTing `bodyFile`; returns completed 2xx requests per second. */
function postLoad(url: string, bodyFile: string, headers: Record<string, string>, secs: number) {
  const args = [autocannonBin, '--json', '-c', String(connections), '-d', String(secs), '-m', 'POST'];
  args.push('-i', bodyFile, '-H', 'content-type=application/json');
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}=${value}`);
  args.push(url);
  return new Promise<{ perSecond: number; ok: number; non2xx: number; errors: number }>((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.once('exit', (code) => {
      try {
        const r = JSON.parse(out) as {
          requests: { average: number };
          '2xx': number;
          non2xx: number;
          errors: number;
        };
        resolve({ perSecond: r.requests.average, ok: r['2xx'], non2xx: r.non2xx, errors: r.errors });
      } catch {
        reject(new Error(`autocannon exited with ${code} and no JSON result`));
      }
    });
  });
}

type Baseline = { database: Database; botId: number; dir: string };

/** A database of the same kind as the server's: a fresh embedded one, or BENCH_DATABASE_URL. */
async function openBaseline(): Promise<Baseline> {
  const dir = mkdtempSync(join(tmpdir(), 'portal-bench-insert-'));
  if (!databaseUrl) await seedMigratedDatabase(dir);
  const database = await openDatabase(databaseUrl ? { url: databaseUrl } : { dataDir: dir });
  await database.migrate();
  const { bot } = await createBot(database.db, { name: 'baseline' });
  return { database, botId: bot.id, dir };
}

/** Runs `work` (which stores ITEMS rows) back to back for `secs`; returns rows per second. */
async function rowsPerSecond(secs: number, work: () => Promise<unknown>) {
  const started = Date.now();
  let stored = 0;
  while (Date.now() - started < secs * 1000) {
    await work();
    stored += ITEMS;
  }
  return stored / ((Date.now() - started) / 1000);
}

/** The same rows as one plain multi-row INSERT … VALUES (7 bind parameters a row). */
const plainInsert = ({ database, botId }: Baseline, secs: number) => {
  const rows = items.map((item) => ({
    botId,
    userId: null,
    platformUserId: item.platform_user_id,
    command: item.command,
    success: item.success,
    latencyMs: item.latency_ms,
    executedAt: new Date(),
  }));
  return rowsPerSecond(secs, () => database.db.insert(botCommands).values(rows));
};

/** The endpoint's service in-process: validation, link lookup and its INSERT, without HTTP. */
const serviceCall = ({ database, botId }: Baseline, secs: number) =>
  rowsPerSecond(secs, () => recordCommandBatch(database.db, { botId, items }));

const env = {
  ...(databaseUrl && { DATABASE_URL: databaseUrl }),
  PORTAL_SECRET_KEY: secretText,
  RATE_LIMIT_BOT: '100000000',
  RATE_LIMIT_PUBLIC: '100000000',
  STATS_CACHE_SECONDS: '0',
};
// The baseline's database opens while the server starts.
const baselineReady = openBaseline();
const bodyDir = mkdtempSync(join(tmpdir(), 'portal-bench-body-'));
let portal: Proc | undefined;
try {
  portal = await startProcess('src/main.ts', env);
  // The operator's way in: the admin CLI, which reaches the running server through DATA_DIR/admin.sock.
  const created = await promisify(execFile)(
    process.execPath,
    [...entryArgs('src/cli/main.ts'), 'bot', 'create', 'benchbot', '--json', '--rate-limit', '10000000'],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATA_DIR: portal.dataDir,
        LOG_LEVEL: 'warn',
        ...env,
      },
    },
  );
  const { api_key: apiKey } = JSON.parse(created.stdout) as { api_key: string };
  const headers = { 'x-api-key': apiKey };
  const bodyFile = join(bodyDir, 'batch.json');
  writeFileSync(bodyFile, JSON.stringify({ items }));

  const once = await fetch(`${portal.url}/bot/batch`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ items }),
  });
  const first = (await once.json()) as { accepted?: number };
  if (once.status !== 200 || first.accepted !== ITEMS) {
    throw new Error(`POST /bot/batch answered ${once.status} ${JSON.stringify(first).slice(0, 200)}`);
  }

  let completed = 1;
  const warm = await postLoad(`${portal.url}/bot/batch`, bodyFile, headers, isQuick ? 1 : 2);
  completed += warm.ok;
  const baseline = await baselineReady;
  const viaHttp: number[] = [];
  const viaInsert: number[] = [];
  const viaService: number[] = [];
  await plainInsert(baseline, isQuick ? 0.5 : 1);
  await serviceCall(baseline, isQuick ? 0.5 : 1);
  for (let i = 0; i < rounds; i++) {
    const load = await postLoad(`${portal.url}/bot/batch`, bodyFile, headers, seconds);
    if (load.non2xx || load.errors)
      throw new Error(`/bot/batch answered ${load.non2xx} non-2xx and ${load.errors} errors`);
    completed += load.ok;
    viaHttp.push(load.perSecond * ITEMS);
    viaInsert.push(await plainInsert(baseline, seconds));
    viaService.push(await serviceCall(baseline, seconds));
  }

  // Every completed request stored its 1000 rows (a request cut off at the end may add more).
  // A full run idles the first request's keep-alive socket past the server's 65 s timeout: retry once.
  const statistics = () => fetch(`${portal!.url}/statistics/app`);
  const app = (await (await statistics().catch(statistics)).json()) as { commands_total: number };
  if (app.commands_total < completed * ITEMS) {
    throw new Error(`stored ${app.commands_total} commands, expected at least ${completed * ITEMS}`);
  }

  report('bot.batch', [
    {
      name: `POST /bot/batch, ${ITEMS} items, ${connections} connections, items/s (median)`,
      value: median(viaHttp),
      unit: 'items/s',
      baseline: { name: `plain ${ITEMS}-row INSERT … VALUES, same rows`, value: median(viaInsert) },
    },
    {
      name: `POST /bot/batch, ${ITEMS} items, items/s (median)`,
      value: median(viaHttp),
      unit: 'items/s',
      baseline: { name: 'recordCommandBatch in-process, no HTTP', value: median(viaService) },
    },
  ]);
} finally {
  await portal?.stop();
  rmSync(bodyDir, { recursive: true, force: true });
  const baseline = await baselineReady.catch(() => undefined);
  await baseline?.database.close();
  if (baseline) rmSync(baseline.dir, { recursive: true, force: true });
}
