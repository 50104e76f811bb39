import type { Command } from 'commander';
import { type CommonOptions, type Execute, leaf, parseWholeNumber } from './command-kit';

// `webhook …` commands (API.md §10): what an operator needs when a receiver misbehaves — which
// webhooks exist and fail, their delivery log, and switching one off, on again, or deleting it.

type Opts = CommonOptions & { limit?: number };

type Line = {
  id: number;
  name: string;
  type: string;
  url: string | null;
  channel_id: number | null;
  events: string[];
  enabled: boolean;
  consecutive_failures: number;
  owner_username: string | null;
};

const describe = (w: Line) =>
  `${w.id}\t${w.name}\t${w.type} ${w.type === 'outgoing' ? `${w.url} [${w.events.join(',')}]` : `channel ${w.channel_id}`}` +
  `\towner ${w.owner_username ?? '-'}\t${w.enabled ? 'enabled' : 'disabled'}, ${w.consecutive_failures} failures in a row`;

export function registerWebhookCommands(program: Command, execute: Execute) {
  const webhook = program.command('webhook').description('Outgoing and incoming webhooks');
  leaf(webhook, 'list', 'List every webhook with its owner and failure streak').action((o: Opts) =>
    execute(
      o,
      (call) => call('webhooks', 'list', undefined),
      (r) => (r.webhooks.length === 0 ? 'No webhooks' : r.webhooks.map(describe).join('\n')),
    ),
  );
  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    leaf(
      webhook,
      name,
      `${enabled ? 'Enable' : 'Disable'} a webhook${enabled ? ' (resets its failures)' : ''}`,
    )
      .argument('<id>', 'webhook id', parseWholeNumber)
      .action((id: number, o: Opts) =>
        execute(
          o,
          (call) => call('webhooks', 'setEnabled', { id, enabled }),
          (w) => `Webhook ${w.id} (${w.name}) is ${w.enabled ? 'enabled' : 'disabled'}`,
        ),
      );
  }
  leaf(webhook, 'delete', 'Delete a webhook with its deliveries and logs')
    .argument('<id>', 'webhook id', parseWholeNumber)
    .action((id: number, o: Opts) =>
      execute(
        o,
        (call) => call('webhooks', 'delete', { id }),
        () => `Deleted webhook ${id}`,
      ),
    );
  leaf(webhook, 'deliveries', 'Show the delivery log of a webhook, newest attempt first')
    .argument('<id>', 'webhook id', parseWholeNumber)
    .option('--limit <n>', 'entries (default 50, at most 100)', parseWholeNumber)
    .action((id: number, o: Opts) =>
      execute(
        o,
        (call) => call('webhooks', 'deliveries', { id, limit: o.limit ?? 50, offset: 0 }),
        (r) =>
          r.deliveries.length === 0
            ? 'No deliveries logged'
            : r.deliveries
                .map(
                  (d) =>
                    `${d.created_at}  ${d.event} #${d.delivery_id} attempt ${d.attempt}  ${d.success ? 'ok' : 'failed'}` +
                    `  ${d.response_status ?? '-'}  ${d.duration_ms} ms${d.error ? `  ${d.error}` : ''}  (${d.status})`,
                )
                .join('\n'),
      ),
    );
}
