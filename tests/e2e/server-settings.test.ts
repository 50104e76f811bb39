import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../src/db/schema';
import type { RunningServer } from '../../src/server';
import { inviteCodeFor } from '../../src/services/auth/invite-code';
import { SETTING_KEYS } from '../../src/services/settings/definitions';
import { getServerSettings, isRtmpPlainEnabled } from '../../src/services/settings/settings';
import { trpcAs, trpcRefusal } from '../helpers/admin-http';
import { expectError, joinChannel, openChat, publicChannel } from '../helpers/chat-client';
import { clusterSkipReason, startCluster } from '../helpers/cluster';
import { api } from '../helpers/identity';
import { closePortalClients, waitFor } from '../helpers/portal-client';
import { fitInOneMinuteWindow } from '../helpers/rate-window';
import { type Json, ok, refused, roomKit } from '../helpers/rooms';
import { adminCaller, NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// Server settings (seed 002 "Server Settings", API.md §8: admin router and CLI, not REST) over the
// typed admin router on /trpc: who may use them, their checks, and that each takes effect where it
// is used — registration, the invite code, plain RTMP, and the request/chat/webhook limits.

let server: TestServer;
const { person } = roomKit(() => server);

beforeAll(async () => {
  // One registration per address per day: each test registration comes from its own address.
  server = await startTestServer({ env: { ...NO_REQUEST_LIMITS, TRUST_PROXY: '1' } });
});
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  await closePortalClients();
  // Every test starts from the defaults.
  for (const key of SETTING_KEYS) await adminCaller(server).settings.reset({ key });
});

let seq = 0;
const unique = (prefix: string) => `${prefix}_${process.pid}_${++seq}`;
const admin = async () => trpcAs(server, (await person(2)).token).admin;

const register = (username: string, invite_code: string, ip: string) =>
  api(server, 'POST', '/api/register', {
    body: { username, password: 'correct horse battery', invite_code },
    // Each registration from its own address: one per address per day.
    headers: { 'x-forwarded-for': ip },
  });

describe('the settings procedures', () => {
  it('are for Admins and Owners only', async () => {
    const user = await person(0);
    expect(await trpcRefusal(trpcAs(server, user.token).admin.settings.get.query({}))).toMatchObject({
      status: 403,
      error: 'Admin access required',
    });
    expect(
      await trpcRefusal(trpcAs(server).admin.settings.set.mutate({ key: 'registration_open', value: false })),
    ).toMatchObject({ status: 401, error: 'Authentication required' });
    // Not REST (API.md §8): no path under /api answers for them.
    expect((await api(server, 'GET', '/api/settings', { token: user.token })).status).toBe(404);
  });

  it('list every setting with its default, and refuse unknown keys and bad values', async () => {
    const a = await admin();
    const { settings } = await a.settings.get.query({});
    expect(settings.map((s) => s.key)).toEqual(SETTING_KEYS);
    expect(settings.find((s) => s.key === 'chat_rate_messages')).toMatchObject({
      value: 5,
      default: 5,
      source: 'default',
      type: 'integer',
    });
    expect(await trpcRefusal(a.settings.set.mutate({ key: 'nope', value: 1 }))).toMatchObject({
      status: 400,
      error: 'Unknown setting: nope',
      known: SETTING_KEYS,
    });
    expect(await trpcRefusal(a.settings.get.query({ key: 'nope' }))).toMatchObject({ status: 400 });
    expect(await trpcRefusal(a.settings.set.mutate({ key: 'chat_rate_messages', value: 0 }))).toMatchObject({
      status: 400,
      error: 'chat_rate_messages must be at least 1',
    });
    expect(
      await trpcRefusal(a.settings.set.mutate({ key: 'chat_rate_messages', value: '5x' })),
    ).toMatchObject({
      status: 400,
      error: 'chat_rate_messages must be a whole number from 1 to 100000',
    });
    expect(
      await trpcRefusal(a.settings.set.mutate({ key: 'registration_open', value: 'maybe' })),
    ).toMatchObject({
      status: 400,
      error: 'registration_open must be true or false',
    });
    // Nothing was stored by the refusals.
    expect((await a.settings.get.query({ key: 'chat_rate_messages' })).settings[0]).toMatchObject({
      source: 'default',
    });

    const set = await a.settings.set.mutate({ key: 'chat_rate_messages', value: '9' });
    expect(set).toMatchObject({ value: 9, default: 5, source: 'setting' });
    const [audit] = await server.deps.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.action, 'settings.set'));
    expect(audit).toMatchObject({ targetType: 'setting', targetId: 'chat_rate_messages' });
    expect(audit!.details).toMatchObject({ value: 9, previous: null });
    expect((await a.settings.reset.mutate({ key: 'chat_rate_messages' })).source).toBe('default');
  });
});

describe('registration and the invite code', () => {
  it('closing registration refuses POST /api/register with a clear message; opening it again admits', async () => {
    const a = await admin();
    const code = inviteCodeFor(server.deps.secretKey);
    await a.settings.set.mutate({ key: 'registration_open', value: 'closed' });
    const closed = await refused(
      register(unique('closed'), code, '198.51.100.1'),
      403,
      'Registration is closed on this server',
    );
    expect(closed.body.reason).toBe('registration_closed');
    await a.settings.set.mutate({ key: 'registration_open', value: true });
    const made = await ok(register(unique('open'), code, '198.51.100.2'));
    expect(made.message).toBe('Registration successful');
  });

  it('rotating the invite code makes the old one stop working at once', async () => {
    const a = await admin();
    const old = inviteCodeFor(server.deps.secretKey);
    expect((await a.invites.today.query()).code).toBe(old);
    const rotated = await a.invites.rotate.mutate();
    expect(rotated.code).not.toBe(old);
    expect(rotated.code).toMatch(/^[0-9A-F]{10}$/);
    await refused(register(unique('old'), old, '198.51.100.3'), 403, 'Invalid invite code');
    expect((await a.invites.today.query()).code).toBe(rotated.code);
    await ok(register(unique('new'), rotated.code, '198.51.100.4'));
    const again = await a.invites.rotate.mutate();
    await refused(register(unique('older'), rotated.code, '198.51.100.5'), 403, 'Invalid invite code');
    await ok(register(unique('newer'), again.code.toLowerCase(), '198.51.100.6'));
  });
});

describe('plain RTMP', () => {
  it('is a runtime setting over RTMP_PLAIN_ENABLED', async () => {
    const deps = { db: server.deps.database.db, env: server.deps.env };
    expect(await isRtmpPlainEnabled(deps)).toBe(false);
    const a = await admin();
    await a.settings.set.mutate({ key: 'rtmp_plain_enabled', value: 'on' });
    expect(await isRtmpPlainEnabled(deps)).toBe(true);
    expect(server.deps.env.RTMP_PLAIN_ENABLED).toBe(true);
    expect((await getServerSettings(deps)).rtmp_plain_enabled).toBe(true);
    await a.settings.reset.mutate({ key: 'rtmp_plain_enabled' });
    expect(await isRtmpPlainEnabled(deps)).toBe(false);
    expect(server.deps.env.RTMP_PLAIN_ENABLED).toBe(false);
  });
});

describe('limits', () => {
  it('rate_limit_login lowers the LOGIN tier at once', async () => {
    const a = await admin();
    await fitInOneMinuteWindow(10_000);
    await a.settings.set.mutate({ key: 'rate_limit_login', value: 1 });
    const token = () =>
      api(server, 'POST', '/api/token', { body: { username: 'nobody_here', password: 'x' } });
    await token();
    const limited = await token();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('1');
    await a.settings.reset.mutate({ key: 'rate_limit_login' });
    expect((await token()).status).toBe(401);
  });

  it('rate_limit_auth sets the AUTH tier reported in X-RateLimit-Limit', async () => {
    const a = await admin();
    const user = await person(0);
    await a.settings.set.mutate({ key: 'rate_limit_auth', value: 77_777 });
    const me = await api(server, 'GET', '/users/me', { token: user.token });
    expect(me.headers.get('x-ratelimit-limit')).toBe('77777');
  });

  it('chat_rate_messages and chat_rate_window_seconds govern channel messages', async () => {
    const a = await admin();
    const owner = await person(2);
    const channel = await publicChannel(server, owner, unique('rate').replaceAll('_', '-'));
    await a.settings.set.mutate({ key: 'chat_rate_messages', value: 2 });
    await a.settings.set.mutate({ key: 'chat_rate_window_seconds', value: 600 });
    const ws = await openChat(server, owner.token);
    await joinChannel(ws, channel.name);
    for (const text of ['one', 'two']) {
      ws.send({ type: 'message', channel: channel.name, message: text });
      expect(await ws.nextOf('message')).toMatchObject({ message: text });
    }
    ws.send({ type: 'message', channel: channel.name, message: 'three' });
    await expectError(ws, "Slow down! You're sending messages too fast.");
  });

  it('webhooks_per_user caps webhooks, incoming_webhook_rate_messages their posts', async () => {
    const a = await admin();
    const owner = await person(2);
    const channel = await publicChannel(server, owner, unique('hooks').replaceAll('_', '-'));
    await a.settings.set.mutate({ key: 'webhooks_per_user', value: 1 });
    await a.settings.set.mutate({ key: 'incoming_webhook_rate_messages', value: 2 });
    await a.settings.set.mutate({ key: 'incoming_webhook_rate_window_seconds', value: 3600 });
    const create = (name: string) =>
      api(server, 'POST', '/api/webhooks', {
        token: owner.token,
        body: { name, type: 'incoming', channel_id: channel.id },
      });
    const hook = (await ok(create('first'))) as Json;
    await refused(create('second'), 403, 'You can have at most 1 webhooks');
    const post = (content: string) => api(server, 'POST', `/api/hooks/${hook.token}`, { body: { content } });
    await ok(post('a'));
    await ok(post('b'));
    await refused(post('c'), 429, 'Too many requests');
  });

  it('webhook_rate_deliveries and its window reach the delivery worker', async () => {
    const a = await admin();
    await a.settings.set.mutate({ key: 'webhook_rate_deliveries', value: 3 });
    await a.settings.set.mutate({ key: 'webhook_rate_window_seconds', value: 120 });
    // The worker reads the same live configuration object at each attempt.
    expect(server.deps.env.WEBHOOK_RATE_DELIVERIES).toBe(3);
    expect(server.deps.env.WEBHOOK_RATE_WINDOW_SECONDS).toBe(120);
  });
});

const clusterSkip = await clusterSkipReason();
if (clusterSkip) console.warn(`skipping the cluster settings test: ${clusterSkip}`);

describe.skipIf(clusterSkip !== undefined)('in a cluster', () => {
  it('a change made on one node reaches the others (LISTEN/NOTIFY), and so does a reset', async () => {
    const cluster = await startCluster(2);
    try {
      const [a, b] = cluster.nodes as [RunningServer, RunningServer];
      await adminCaller(a).settings.set({ key: 'chat_rate_messages', value: 42 });
      await waitFor(() => b.deps.env.CHAT_RATE_MESSAGES === 42, 'node B sees the new limit', 10_000);
      await adminCaller(b).settings.reset({ key: 'chat_rate_messages' });
      await waitFor(() => a.deps.env.CHAT_RATE_MESSAGES === 5, 'node A sees the reset', 10_000);
    } finally {
      await cluster.stop();
    }
  });
});

describe('retention and the service log over /trpc', () => {
  it('are Admin+ only; an Admin lists, changes, dry-runs and resets policies', async () => {
    const user = await person(0);
    const asUser = trpcAs(server, user.token).admin;
    // Called one at a time: a refusal nobody awaits yet would be an unhandled rejection.
    for (const call of [
      () => asUser.retention.list.query(),
      () => asUser.retention.set.mutate({ kind: 'notifications', days: 3 }),
      () => asUser.retention.run.mutate({ dryRun: true }),
      () => asUser.services.checks.query({ id: 1 }),
    ])
      expect(await trpcRefusal(call())).toMatchObject({ status: 403, error: 'Admin access required' });

    const a = await admin();
    const set = await a.retention.set.mutate({ kind: 'notifications', days: 12 });
    expect(set).toMatchObject({ kind: 'notifications', days: 12, enabled: true, source: 'setting' });
    expect(await trpcRefusal(a.retention.set.mutate({ kind: 'notifications', days: -3 }))).toMatchObject({
      status: 400,
      error: 'days must be at least 1',
    });
    expect(await trpcRefusal(a.retention.set.mutate({ kind: 'notifications', days: 40_000 }))).toMatchObject({
      status: 400,
      error: 'days must be at most 36500',
    });
    const dry = await a.retention.run.mutate({ dryRun: true, kind: 'notifications' });
    expect(dry).toMatchObject({ dry_run: true, policies: [{ kind: 'notifications', days: 12, total: 0 }] });
    const reset = await a.retention.reset.mutate({ kind: 'notifications' });
    expect(reset).toMatchObject({ days: 90, source: 'default' });
    expect((await a.retention.list.query()).policies.find((p) => p.kind === 'notifications')).toMatchObject({
      days: 90,
    });
  });
});
