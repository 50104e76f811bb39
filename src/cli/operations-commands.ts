import { type Command, InvalidArgumentError } from 'commander';
import { AppError } from '../core/errors';
import { type CommonOptions, type Execute, leaf, parseWholeNumber, plural } from './command-kit';

// Operator commands (API.md §10; seed 002 "Server Settings", "Data Retention"): server settings,
// invite code rotation, retention policies and runs, the service monitor's log.

type Opts = CommonOptions & {
  days?: number;
  enabled?: boolean;
  disabled?: boolean;
  dryRun?: boolean;
  kind?: string;
  limit?: number;
};

/** Signed, so that `--days=-3` reaches the router and gets its sentence ("days must be at least 1"). */
function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

const subcommand = (program: Command, name: string) => {
  const found = program.commands.find((c) => c.name() === name);
  if (!found) throw new Error(`no ${name} command to extend`);
  return found;
};

type SettingLine = { key: string; value: boolean | number; default: boolean | number; source: string };
const describeSetting = (s: SettingLine) =>
  `${s.key} = ${s.value}${s.source === 'default' ? ' (default)' : ` (default ${s.default})`}`;

type PolicyLine = { kind: string; enabled: boolean; days: number; source: string };
const describePolicy = (p: PolicyLine) =>
  `${p.kind}\t${p.enabled ? `${plural(p.days, 'day')}` : 'disabled'}${p.source === 'default' ? ' (default)' : ''}`;

export function registerOperationsCommands(program: Command, execute: Execute) {
  const settings = program
    .command('settings')
    .description('Server settings (registration, plain RTMP, limits)');
  leaf(settings, 'get [key]', 'Show every setting, or one, with its default').action(
    (key: string | undefined, o: Opts) =>
      execute(
        o,
        (call) => call('settings', 'get', key === undefined ? {} : { key }),
        (r) => r.settings.map(describeSetting).join('\n'),
      ),
  );
  leaf(settings, 'set <key> <value>', 'Change a setting on every node').action(
    (key: string, value: string, o: Opts) =>
      execute(
        o,
        (call) => call('settings', 'set', { key, value }),
        (r) => `Set ${describeSetting(r)}`,
      ),
  );
  leaf(settings, 'reset <key>', 'Return a setting to its default').action((key: string, o: Opts) =>
    execute(
      o,
      (call) => call('settings', 'reset', { key }),
      (r) => `Reset ${describeSetting(r)}`,
    ),
  );

  leaf(
    subcommand(program, 'invite'),
    'rotate',
    "Replace today's invite code (the old one stops working)",
  ).action((o: Opts) =>
    execute(
      o,
      (call) => call('invites', 'rotate', undefined),
      (r) => `New invite code for ${r.date} (UTC): ${r.code}`,
    ),
  );

  const retention = program.command('retention').description('Data retention policies');
  leaf(retention, 'list', 'Show the retention policy of every kind of data').action((o: Opts) =>
    execute(
      o,
      (call) => call('retention', 'list', undefined),
      (r) => r.policies.map(describePolicy).join('\n'),
    ),
  );
  leaf(retention, 'set <kind>', 'Change a retention policy')
    .option('--days <n>', 'keep this many days (1 to 36500)', parseInteger)
    .option('--enabled', 'apply the policy')
    .option('--disabled', 'keep this kind of data forever')
    .action((kind: string, o: Opts) =>
      execute(
        o,
        (call) => {
          if (o.enabled && o.disabled)
            throw new AppError('BAD_REQUEST', '--enabled and --disabled exclude each other');
          return call('retention', 'set', {
            kind,
            days: o.days,
            enabled: o.enabled ? true : o.disabled ? false : undefined,
          });
        },
        (p) => `Retention: ${describePolicy(p)}`,
      ),
    );
  leaf(retention, 'reset <kind>', 'Return a retention policy to its default').action(
    (kind: string, o: Opts) =>
      execute(
        o,
        (call) => call('retention', 'reset', { kind }),
        (p) => `Retention: ${describePolicy(p)}`,
      ),
  );
  leaf(retention, 'run', 'Delete expired data now (--dry-run: only count it)')
    .option('--dry-run', 'count what a run would delete, delete nothing')
    .option('--kind <kind>', 'only this kind of data')
    .action((o: Opts) =>
      execute(
        o,
        (call) => call('retention', 'run', { dryRun: o.dryRun ?? false, kind: o.kind }),
        (r) =>
          r.policies
            .map((p) =>
              p.rows === null
                ? `${p.kind}\tdisabled`
                : `${p.kind}\t${r.dry_run ? 'would delete' : 'deleted'} ${plural(p.total, 'row')} older than ${p.cutoff}` +
                  (Object.keys(p.rows).length > 1
                    ? ` (${Object.entries(p.rows)
                        .map(([t, n]) => `${t} ${n}`)
                        .join(', ')})`
                    : ''),
            )
            .join('\n'),
      ),
    );

  leaf(subcommand(program, 'service'), 'checks', 'Show the monitor’s probes of a service, newest first')
    .argument('<id>', 'service id', parseWholeNumber)
    .option('--limit <n>', 'entries (default 50, at most 1000)', parseWholeNumber)
    .action((id: number, o: Opts) =>
      execute(
        o,
        (call) => call('services', 'checks', { id, limit: o.limit ?? 50, offset: 0 }),
        (r) =>
          r.checks.length === 0
            ? `No probes of ${r.service.name} logged`
            : r.checks
                .map(
                  (c) =>
                    `${c.checked_at}  ${c.healthy ? 'up' : 'down'}${c.latency_ms === null ? '' : `  ${c.latency_ms} ms`}`,
                )
                .join('\n'),
      ),
    );
}
