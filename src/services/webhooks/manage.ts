import { count, eq } from 'drizzle-orm';
import { randomToken, sha256Hex } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { channels, users, webhooks } from '../../db/schema';
import { recordActivity } from '../activity/activity';
import { inTransaction } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { TEST_EVENT, type WebhookEventName } from './events';
import { enqueueWebhookEvent } from './outbox';
import { targetGuardOf } from './target-guard';
import type { WebhookActor, WebhookDeps, WebhookRow, WebhookType } from './types';
import { getWebhook, notFound } from './views';

// Creating, changing, deleting, rotating and testing webhooks (seed 002, Admin+). The signing
// secret and the incoming token are returned once (create, rotate-secret); the secret is sealed
// at rest, the token kept as its SHA-256, the URL sealed and SSRF-checked whenever it is set.

export type CreateWebhookInput = {
  name: string;
  type: WebhookType;
  url?: string | undefined;
  events?: WebhookEventName[] | undefined;
  channel_id?: number | undefined;
};

export type UpdateWebhookInput = {
  name?: string | undefined;
  url?: string | undefined;
  events?: WebhookEventName[] | undefined;
  channel_id?: number | undefined;
  enabled?: boolean | undefined;
};

type ManageDeps = Pick<WebhookDeps, 'db' | 'secretBox' | 'env'>;

/** Every change of a webhook is audited in the transaction that makes it. */
const auditWebhook = (
  tx: Db,
  actor: WebhookActor,
  action: string,
  id: number,
  details?: Record<string, unknown>,
) =>
  writeAudit(tx, {
    actor: { userId: actor.userId, label: actor.username },
    action,
    targetType: 'webhook',
    targetId: id,
    ...(details && { details }),
  });
const bad = (message: string) => new AppError('BAD_REQUEST', message);

const newSecret = () => randomToken(32);
const newToken = () => randomToken(32);

async function sealCheckedUrl(deps: ManageDeps, url: string) {
  const target = await targetGuardOf(deps.env).check(url);
  return deps.secretBox.encrypt(target.url.toString());
}

async function assertChannel(db: Db, channelId: number) {
  const [channel] = await db.select({ id: channels.id }).from(channels).where(eq(channels.id, channelId));
  if (!channel) throw new AppError('NOT_FOUND', 'Channel not found');
}

/** Only the fields of the webhook's own type (seed 002: url/events outgoing, channel_id incoming). */
function assertFieldsFit(
  type: WebhookType,
  input: { url?: unknown; events?: unknown; channel_id?: unknown },
) {
  if (type === 'incoming') {
    if (input.url !== undefined) throw bad('url is only for outgoing webhooks');
    if (input.events !== undefined) throw bad('events is only for outgoing webhooks');
  } else if (input.channel_id !== undefined) {
    throw bad('channel_id is only for incoming webhooks');
  }
}

export async function createWebhook(deps: ManageDeps, actor: WebhookActor, input: CreateWebhookInput) {
  if (actor.userId === null) throw new AppError('FORBIDDEN', 'Webhooks belong to users: use --as <admin>');
  const ownerId = actor.userId;
  assertFieldsFit(input.type, input);
  let url: string | null = null;
  const secret = input.type === 'outgoing' ? newSecret() : null;
  const token = input.type === 'incoming' ? newToken() : null;
  if (input.type === 'outgoing') {
    if (input.url === undefined) throw bad('url is required for outgoing webhooks');
    if (!input.events?.length) throw bad('events is required for outgoing webhooks');
    url = await sealCheckedUrl(deps, input.url);
  } else {
    if (input.channel_id === undefined) throw bad('channel_id is required for incoming webhooks');
    await assertChannel(deps.db, input.channel_id);
  }
  const id = await inTransaction(deps.db, async (tx) => {
    // The owner's row is locked, so concurrent creations cannot overshoot the limit.
    await tx.select({ id: users.id }).from(users).where(eq(users.id, ownerId)).for('update');
    const [owned] = await tx.select({ n: count() }).from(webhooks).where(eq(webhooks.ownerId, ownerId));
    if ((owned?.n ?? 0) >= deps.env.WEBHOOKS_PER_USER) {
      throw new AppError('FORBIDDEN', `You can have at most ${deps.env.WEBHOOKS_PER_USER} webhooks`);
    }
    const [row] = await tx
      .insert(webhooks)
      .values({
        ownerId,
        name: input.name,
        type: input.type,
        url,
        secret: secret === null ? null : deps.secretBox.encrypt(secret),
        events: input.type === 'outgoing' ? [...new Set(input.events)] : [],
        channelId: input.type === 'incoming' ? (input.channel_id ?? null) : null,
        tokenHash: token === null ? null : sha256Hex(token),
      })
      .returning({ id: webhooks.id });
    await auditWebhook(tx, actor, 'webhook.create', row!.id, { name: input.name, type: input.type });
    await recordActivity(tx, {
      userId: ownerId,
      action: 'webhook_created',
      details: `Created ${input.type} webhook "${input.name}"`,
    });
    return row!.id;
  });
  return { ...(await getWebhook(deps, id)), secret, token };
}

async function lockWebhook(tx: Db, id: number): Promise<WebhookRow> {
  const [row] = await tx.select().from(webhooks).where(eq(webhooks.id, id)).for('update');
  if (!row) throw notFound();
  return row;
}

export async function updateWebhook(
  deps: ManageDeps,
  actor: WebhookActor,
  id: number,
  patch: UpdateWebhookInput,
) {
  if (Object.values(patch).every((v) => v === undefined)) {
    throw bad('At least one of name, url, events, channel_id or enabled is required');
  }
  const [current] = await deps.db.select().from(webhooks).where(eq(webhooks.id, id));
  if (!current) throw notFound();
  const type = current.type as WebhookType;
  assertFieldsFit(type, patch);
  if (patch.events !== undefined && patch.events.length === 0) throw bad('events must have at least 1 items');
  // Checked before the transaction: DNS may take a while, and nothing should wait on a lock for it.
  const url = patch.url === undefined ? undefined : await sealCheckedUrl(deps, patch.url);
  if (patch.channel_id !== undefined) await assertChannel(deps.db, patch.channel_id);
  await inTransaction(deps.db, async (tx) => {
    const row = await lockWebhook(tx, id);
    await tx
      .update(webhooks)
      .set({
        ...(patch.name !== undefined && { name: patch.name }),
        ...(url !== undefined && { url }),
        ...(patch.events !== undefined && { events: [...new Set(patch.events)] }),
        ...(patch.channel_id !== undefined && { channelId: patch.channel_id }),
        // Enabling starts a fresh failure streak; any change of state clears the worker's reason.
        ...(patch.enabled !== undefined && {
          enabled: patch.enabled,
          disabledReason: null,
          ...(patch.enabled && !row.enabled && { consecutiveFailures: 0 }),
        }),
        updatedAt: new Date(),
      })
      .where(eq(webhooks.id, id));
    await auditWebhook(tx, actor, 'webhook.update', id, {
      fields: Object.keys(patch).filter((k) => patch[k as keyof UpdateWebhookInput] !== undefined),
    });
  });
  return getWebhook(deps, id);
}

/** The webhook, its outbox rows and its delivery logs (seed 002). */
export async function deleteWebhook(deps: ManageDeps, actor: WebhookActor, id: number) {
  await inTransaction(deps.db, async (tx) => {
    const row = await lockWebhook(tx, id);
    await tx.delete(webhooks).where(eq(webhooks.id, id));
    await auditWebhook(tx, actor, 'webhook.delete', id, { name: row.name, type: row.type });
    if (actor.userId !== null) {
      await recordActivity(tx, {
        userId: actor.userId,
        action: 'webhook_deleted',
        details: `Deleted ${row.type} webhook "${row.name}"`,
      });
    }
  });
  return { success: true as const };
}

/**
 * A new signing secret (outgoing) or token (incoming), shown once; the old one stops working at
 * once, retries of earlier events included, since every attempt signs with the current secret.
 */
export async function rotateWebhookSecret(deps: ManageDeps, actor: WebhookActor, id: number) {
  return inTransaction(deps.db, async (tx) => {
    const row = await lockWebhook(tx, id);
    const outgoing = row.type === 'outgoing';
    const secret = outgoing ? newSecret() : null;
    const token = outgoing ? null : newToken();
    await tx
      .update(webhooks)
      .set(
        secret !== null
          ? { secret: deps.secretBox.encrypt(secret), updatedAt: new Date() }
          : { tokenHash: sha256Hex(token!), updatedAt: new Date() },
      )
      .where(eq(webhooks.id, id));
    await auditWebhook(tx, actor, 'webhook.rotate_secret', id);
    return { id, secret, token };
  });
}

/** Queues a `webhook.test` event for this webhook alone, delivered like any other event. */
export async function testWebhook(deps: ManageDeps, id: number) {
  const [row] = await deps.db.select().from(webhooks).where(eq(webhooks.id, id));
  if (!row) throw notFound();
  if (row.type !== 'outgoing') throw bad('Only outgoing webhooks can be tested');
  if (!row.enabled) throw new AppError('CONFLICT', 'This webhook is disabled');
  const { eventId } = await enqueueWebhookEvent(
    deps,
    { event: TEST_EVENT, data: { webhook_id: id, message: 'This is a test delivery from Portal.' } },
    { webhookId: id },
  );
  return { success: true as const, event_id: eventId };
}
