import { Command, CommanderError } from 'commander';
import { pino } from 'pino';
import { EnvError, loadEnv } from '../core/env';
import { describeError, type ErrorBody } from '../core/errors';
import { createLogger, type Logger } from '../core/log';
import { RemoteAdminError } from './admin-channel';
import { registerAutomodCommands } from './automod-commands';
import { registerCertificateCommands } from './certificate-commands';
import type { AdminCall, Execute } from './command-kit';
import { registerCommands } from './commands';
import { registerOperationsCommands } from './operations-commands';
import { type AdminRunner, openAdminRunner } from './runner';
import { registerWebhookCommands } from './webhook-commands';

// portal-admin / `npm run admin -- <command>` (API.md §10). Results go to stdout (one JSON object
// with --json); logs go to stderr, so scripts can parse stdout. Exit 0 on success, 1 on failure.

const wantsJson = process.argv.includes('--json');

const write = (stream: NodeJS.WriteStream, text: string) =>
  new Promise<void>((ok) => stream.write(`${text}\n`, () => ok()));

let log: Logger | undefined;
const logger = (level: string) => {
  // Routine info lines would drown the output of a one-shot command; warnings and errors stay.
  log ??= createLogger(
    ['fatal', 'error', 'silent'].includes(level) ? level : 'warn',
    { component: 'admin-cli' },
    pino.destination({ dest: 2, sync: true }),
  );
  return log;
};

function errorBodyOf(err: unknown): ErrorBody {
  if (err instanceof RemoteAdminError) return err.body;
  if (err instanceof EnvError) return { error: err.message, status: 400 };
  const { body, internal } = describeError(err);
  if (internal) logger('error').error({ err }, 'admin command failed');
  return body;
}

async function fail(json: boolean | undefined, body: ErrorBody) {
  if (json) await write(process.stdout, JSON.stringify(body));
  else await write(process.stderr, `Error (${body.status}): ${body.error}`);
  process.exitCode = 1;
}

const execute: Execute = async (options, work, human) => {
  let runner: AdminRunner | undefined;
  try {
    const env = loadEnv();
    const opened = await openAdminRunner(env, logger(env.LOG_LEVEL));
    runner = opened;
    const call: AdminCall = (group, procedure, input) =>
      opened.call({ path: `${group}.${procedure}`, input, as: options.as }) as never;
    const result = await work(call);
    await write(process.stdout, options.json ? JSON.stringify(result) : human(result));
  } catch (err) {
    await fail(options.json, errorBodyOf(err));
  } finally {
    await runner?.close().catch(() => {});
  }
};

const program = new Command('portal-admin')
  .description(
    'Portal administration: users, subscriptions, bots, invites, announcements, audit, automod, webhooks, settings, retention, certificates, health',
  )
  .exitOverride()
  .showHelpAfterError();
registerCommands(program, execute);
registerWebhookCommands(program, execute);
registerAutomodCommands(program, execute);
registerOperationsCommands(program, execute);
registerCertificateCommands(program, execute);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // Usage errors (unknown command, missing option, bad number) are already on stderr.
  if (err.exitCode !== 0) {
    const message = err.message.replace(/^error: /, '');
    if (wantsJson) await write(process.stdout, JSON.stringify({ error: message, status: 400 }));
  }
  process.exitCode = err.exitCode;
}
// Nothing of a one-shot command may keep the process alive (database pools, bus reconnects).
process.exit(process.exitCode ?? 0);
