import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AppError } from '../core/errors';
import { SERVICE_PLUGINS, type ServicePlugin } from '../services/connections/service-plugins';
import { LEVEL_NAMES } from '../services/users/policy';
import { type CommonOptions, type Execute, leaf, parseLevel, parseWholeNumber, plural } from './command-kit';
import { formatAnnouncements, formatAuditLog, formatHealth } from './format';

// The commands of API.md §10 (binding names), each one call into the admin router.

type Opts = CommonOptions & {
  reason?: string;
  password?: string;
  level?: number;
  minutes?: number;
  tier?: 'trial' | 'premium' | 'lifetime';
  days?: number;
  type?: 'official' | 'verified' | 'community';
  rateLimit?: number;
  owner?: string;
  title?: string;
  message?: string;
  link?: string;
  limit?: number;
  name?: string;
  plugin?: string;
  host?: string;
  port?: number;
  path?: string;
  icon?: string;
  category?: string;
  scopes?: string;
};

type AuditOpts = CommonOptions & {
  actor?: string;
  target?: string;
  action?: string;
  since?: string;
  until?: string;
  channel?: number;
  room?: number;
  limit?: number;
  offset?: number;
};

type ServiceOpts = Opts & {
  disabled?: boolean;
  enabled?: boolean;
  clearLogin?: boolean;
  sshUser?: string;
  sshPassword?: string;
  sshKeyFile?: string;
  sshPassphrase?: string;
};

/** The options `service create` and `service update` share. */
const serviceOptions = (command: Command) =>
  command
    .option('--host <host>', 'backend host name or address (not for terminal)')
    .option('--port <n>', 'backend port (not for terminal)', parseWholeNumber)
    .option('--path <path>', 'path of the service in Portal (/...)')
    .option('--icon <icon>', 'icon name')
    .option('--category <category>', 'category; users with access:<category> see it')
    .option('--scopes <scopes>', 'extra scopes, one of which a user needs (access:<name>,...)')
    .option('--disabled', 'hide it from users and refuse relays')
    .option('--ssh-user <name>', 'ssh services: the login users connect with')
    .option('--ssh-password <password>', 'ssh services: the login password (stored sealed)')
    .option('--ssh-key-file <file>', 'ssh services: a private key file (stored sealed)')
    .option('--ssh-passphrase <passphrase>', 'ssh services: the passphrase of that key (stored sealed)');

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new AppError('BAD_REQUEST', `Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/** Address, display fields and the ssh login of a service command; unset options stay unset. */
function serviceInput(o: ServiceOpts) {
  const login = {
    ...(o.sshUser !== undefined && { username: o.sshUser }),
    ...(o.sshPassword !== undefined && { password: o.sshPassword, auth_method: 'password' }),
    ...(o.sshKeyFile !== undefined && { private_key: readKeyFile(o.sshKeyFile), auth_method: 'key' }),
    ...(o.sshPassphrase !== undefined && { passphrase: o.sshPassphrase }),
  };
  return {
    host: o.host,
    port: o.port,
    path: o.path,
    icon: o.icon,
    category: o.category,
    scopes: o.scopes,
    ...(Object.keys(login).length > 0 && { login }),
  };
}

const levelName = (level: number) => LEVEL_NAMES[level] ?? String(level);
type ServiceLine = {
  id: number;
  name: string;
  plugin: string;
  host: string;
  port: number;
  category: string | null;
  scopes: string;
  enabled: boolean;
};
const formatServices = (r: { services: ServiceLine[] }) =>
  r.services.length === 0
    ? 'No services'
    : r.services
        .map(
          (s) =>
            `${s.id}\t${s.name}\t${s.plugin} ${s.host}:${s.port}\t${s.category ?? '-'}\t${s.scopes || '-'}${s.enabled ? '' : '\t(disabled)'}`,
        )
        .join('\n');
const until = (iso: string | null) => (iso ? `until ${iso}` : 'with no expiry');

export function registerCommands(program: Command, execute: Execute) {
  const user = program.command('user').description('User accounts, moderation and permissions');

  leaf(user, 'create <username>', 'Create a user')
    .option(
      '--password <password>',
      'password (at least 8 characters); without it the user signs in with codes',
    )
    .option('--level <level>', 'permission level 0 (user), 2 (admin) or 3 (owner)', parseLevel)
    .action((username: string, o: Opts) =>
      execute(
        o,
        (call) =>
          call('users', 'create', {
            username,
            password: o.password,
            level: o.level as 0 | 2 | 3 | undefined,
          }),
        (u) => `Created user ${u.username} (id ${u.id}, ${levelName(u.permission_level)})`,
      ),
    );

  for (const [name, description, done] of [
    ['ban', 'Ban a user and end all their sessions', 'Banned'],
    ['unban', 'Lift a ban or timeout', 'Reactivated'],
    ['warn', 'Warn a user (recorded in their punishments)', 'Warned'],
    ['delete', 'Delete a user account', 'Deleted'],
  ] as const) {
    leaf(user, `${name} <username>`, description)
      .option('--reason <reason>', 'reason, recorded in the audit log')
      .action((username: string, o: Opts) =>
        execute(
          o,
          (call) => call('users', name, { username, reason: o.reason }) as Promise<unknown>,
          () => `${done} ${username}`,
        ),
      );
  }

  leaf(
    user,
    'scopes <username> <scopes>',
    'Set service access scopes (access:* or access:<category>,...)',
  ).action((username: string, scopes: string, o: Opts) =>
    execute(
      o,
      (call) => call('users', 'setScopes', { username, scopes }),
      (r) => `${r.user.username} scopes: ${r.user.scopes || '(none)'}`,
    ),
  );

  leaf(user, 'timeout <username>', 'Restrict a user for a number of minutes')
    .requiredOption('--minutes <n>', 'minutes (1 to 525600)', parseWholeNumber)
    .option('--reason <reason>', 'reason, shown to the user and recorded in the audit log')
    .action((username: string, o: Opts) =>
      execute(
        o,
        (call) => call('users', 'timeout', { username, minutes: o.minutes!, reason: o.reason }),
        (r) => `Timed out ${r.user.username} ${until(r.user.state_expires_at)}`,
      ),
    );

  for (const name of ['promote', 'demote'] as const) {
    leaf(user, `${name} <username>`, `${name === 'promote' ? 'Raise' : 'Lower'} a user's permission level`)
      .requiredOption('--level <level>', 'new level 0 (user), 2 (admin) or 3 (owner)', parseLevel)
      .option('--reason <reason>', 'reason, recorded in the audit log')
      .action((username: string, o: Opts) =>
        execute(
          o,
          (call) => call('users', 'setLevel', { username, level: o.level as 0 | 2 | 3, reason: o.reason }),
          (r) => `${r.user.username} is now ${levelName(r.user.permission_level)}`,
        ),
      );
  }

  const subscription = program.command('subscription').description('Subscription tiers');
  leaf(subscription, 'grant <username>', 'Grant a subscription (trial: 7 days, once per user)')
    .requiredOption('--tier <tier>', 'trial, premium or lifetime')
    .option('--days <n>', 'days of premium (required for premium; trial is always 7)', parseWholeNumber)
    .action((username: string, o: Opts) =>
      execute(
        o,
        (call) => call('subscriptions', 'grant', { username, tier: o.tier!, days: o.days }),
        (r) => `${r.user.username}: ${o.tier} ${until(r.subscription.subscription_expires_at)}`,
      ),
    );
  leaf(subscription, 'revoke <username>', 'Return a user to Basic').action((username: string, o: Opts) =>
    execute(
      o,
      (call) => call('subscriptions', 'revoke', { username }),
      (r) => `${r.user.username}: basic`,
    ),
  );

  const bot = program.command('bot').description('Bots');
  leaf(bot, 'create <name>', 'Create a bot; its API key is printed once')
    .option('--type <type>', 'official, verified or community (default)')
    .option('--rate-limit <per-hour>', 'requests per hour', parseWholeNumber)
    .option('--owner <username>', 'owning user')
    .action((name: string, o: Opts) =>
      execute(
        o,
        (call) =>
          call('bots', 'create', { name, type: o.type, rateLimitPerHour: o.rateLimit, owner: o.owner }),
        (r) => `Created bot ${r.name} (id ${r.id})\nAPI key (shown only now, store it safely): ${r.api_key}`,
      ),
    );
  leaf(bot, 'set-type', 'Set a bot type')
    .argument('<bot-id>', 'bot id', parseWholeNumber)
    .argument('<type>', 'official, verified or community')
    .action((botId: number, type: Opts['type'], o: Opts) =>
      execute(
        o,
        (call) => call('bots', 'setType', { botId, type: type! }),
        (r) => `Bot ${r.id} (${r.name}) is now ${r.type}`,
      ),
    );
  leaf(bot, 'set-rate-limit', "Set a bot's hourly request limit")
    .argument('<bot-id>', 'bot id', parseWholeNumber)
    .argument('<per-hour>', 'requests per hour', parseWholeNumber)
    .action((botId: number, perHour: number, o: Opts) =>
      execute(
        o,
        (call) => call('bots', 'setRateLimit', { botId, perHour }),
        (r) => `Bot ${r.id} (${r.name}) may make ${plural(r.rate_limit_per_hour, 'request')} per hour`,
      ),
    );

  const invite = program.command('invite').description('Registration invite codes');
  leaf(invite, 'today', "Print today's registration invite code").action((o: Opts) =>
    execute(
      o,
      (call) => call('invites', 'today', undefined),
      (r) => `Invite code for ${r.date} (UTC): ${r.code}`,
    ),
  );

  const announce = program.command('announce').description('Announcements shown to every user');
  leaf(announce, 'create', 'Create an announcement')
    .requiredOption('--title <title>', 'title')
    .requiredOption('--message <message>', 'text')
    .option('--days <n>', 'expire after this many days (default: never)', parseWholeNumber)
    .action((o: Opts) =>
      execute(
        o,
        (call) =>
          call('announcements', 'create', { title: o.title!, message: o.message!, expiresInDays: o.days }),
        (r) => `Created announcement ${r.id}: ${r.title} (${until(r.expires_at)})`,
      ),
    );
  leaf(announce, 'delete', 'Delete an announcement')
    .argument('<id>', 'announcement id', parseWholeNumber)
    .action((id: number, o: Opts) =>
      execute(
        o,
        (call) => call('announcements', 'delete', { id }),
        (r) => `Deleted announcement ${r.id}`,
      ),
    );
  leaf(announce, 'list', 'List announcements, expired ones included').action((o: Opts) =>
    execute(o, (call) => call('announcements', 'list', undefined), formatAnnouncements),
  );

  const service = program.command('service').description('Services (shared remote endpoints)');
  serviceOptions(
    leaf(service, 'create', 'Create a service')
      .requiredOption('--name <name>', 'display name (at most 50 characters)')
      .requiredOption('--plugin <plugin>', `relay plugin: ${SERVICE_PLUGINS.join(', ')}`),
  ).action((o: ServiceOpts) =>
    execute(
      o,
      (call) =>
        call('services', 'create', {
          ...serviceInput(o),
          name: o.name!,
          plugin: o.plugin as ServicePlugin,
          ...(o.disabled && { enabled: false }),
        }),
      (r) => `Created service ${r.id}: ${r.name} (${r.plugin} ${r.host}:${r.port})`,
    ),
  );
  serviceOptions(
    leaf(service, 'update', 'Change a service (only the options given)')
      .argument('<id>', 'service id', parseWholeNumber)
      .option('--name <name>', 'display name (at most 50 characters)')
      .option('--plugin <plugin>', `relay plugin: ${SERVICE_PLUGINS.join(', ')}`)
      .option('--enabled', 'list it and let users connect')
      .option('--clear-login', 'forget the stored ssh login'),
  ).action((id: number, o: ServiceOpts) =>
    execute(
      o,
      (call) => {
        if (o.enabled && o.disabled)
          throw new AppError('BAD_REQUEST', '--enabled and --disabled exclude each other');
        const input = serviceInput(o);
        return call('services', 'update', {
          ...input,
          id,
          name: o.name,
          plugin: o.plugin as ServicePlugin | undefined,
          enabled: o.enabled ? true : o.disabled ? false : undefined,
          ...(o.clearLogin && { login: null }),
        });
      },
      (r) =>
        `Updated service ${r.id}: ${r.name} (${r.plugin} ${r.host}:${r.port})${r.enabled ? '' : ' (disabled)'}`,
    ),
  );
  leaf(service, 'list', 'List services').action((o: Opts) =>
    execute(o, (call) => call('services', 'list', undefined), formatServices),
  );
  leaf(service, 'delete', 'Delete a service')
    .argument('<id>', 'service id', parseWholeNumber)
    .action((id: number, o: Opts) =>
      execute(
        o,
        (call) => call('services', 'delete', { id }),
        (r) => `Deleted service ${r.id}`,
      ),
    );

  leaf(program, 'notify <username>', 'Send a notification (type admin) to one user')
    .requiredOption('--title <title>', 'title (at most 200 characters)')
    .requiredOption('--message <message>', 'text (at most 4000 characters)')
    .option('--link <link>', 'a path of this site (/...) or an http(s) URL')
    .action((username: string, o: Opts) =>
      execute(
        o,
        (call) =>
          call('notifications', 'notify', { username, title: o.title!, message: o.message!, link: o.link }),
        () => `Notified ${username}`,
      ),
    );
  leaf(program, 'broadcast', 'Send a notification (type admin) to every user')
    .requiredOption('--title <title>', 'title (at most 200 characters)')
    .requiredOption('--message <message>', 'text (at most 4000 characters)')
    .option('--link <link>', 'a path of this site (/...) or an http(s) URL')
    .action((o: Opts) =>
      execute(
        o,
        (call) => call('notifications', 'broadcast', { title: o.title!, message: o.message!, link: o.link }),
        (r) => `Notified ${plural(r.count, 'user')}`,
      ),
    );

  leaf(program, 'audit', 'Show the audit log, newest first')
    .option('--actor <actor>', 'who acted: a username, a user id, system or automod')
    .option(
      '--target <target>',
      'what was acted on: user:<id|username>, channel:<id>, <type>:, or a username',
    )
    .option('--action <action>', 'an action (user.ban) or a prefix ending in * (automod.*)')
    .option('--since <time>', 'from this ISO 8601 time (2026-12-01T00:00:00Z)')
    .option('--until <time>', 'up to this ISO 8601 time')
    .option('--channel <id>', 'entries about this channel', parseWholeNumber)
    .option('--room <id>', 'entries about this room', parseWholeNumber)
    .option('--limit <n>', 'entries (default 50, at most 1000)', parseWholeNumber)
    .option('--offset <n>', 'skip this many of the newest entries', parseWholeNumber)
    .action((o: AuditOpts) =>
      execute(
        o,
        (call) =>
          call('audit', 'list', {
            actor: o.actor,
            target: o.target,
            action: o.action,
            since: o.since,
            until: o.until,
            channel_id: o.channel,
            room_id: o.room,
            limit: o.limit ?? 50,
            offset: o.offset ?? 0,
          }),
        formatAuditLog,
      ),
    );

  leaf(program, 'health', 'Process, CPU, disk, database and bus health').action((o: Opts) =>
    execute(o, (call) => call('health', 'system', undefined), formatHealth),
  );
}
