import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log';
import { startServer } from '../../src/server';
import { expectError, joinChannel, openChat, publicChannel } from '../helpers/chat-client';
import { createTestDatabaseUrl, dumpAllTables } from '../helpers/database';
import { makeTempDir, removeDir, testEnv } from '../helpers/env';
import { api } from '../helpers/identity';
import { closePortalClients } from '../helpers/portal-client';
import { ok, roomKit } from '../helpers/rooms';
import { startTestServer, type TestServer } from '../helpers/server';

// Polls of seed 002 over real /ws/chat sockets: create, vote, close, the automatic close (also
// after a restart) and sealed content at rest.

let server: TestServer;
const kit = roomKit(() => server);
beforeAll(async () => {
  server = await startTestServer({ env: { CHAT_RATE_MESSAGES: '1000' } });
});
afterAll(async () => {
  await closePortalClients();
  await server?.close();
});

const expirePoll = (db: { query(s: ReturnType<typeof sql>): Promise<unknown> }, id: number) =>
  db.query(sql`update chat_polls set closes_at = now() - interval '1 minute' where id = ${id}`);

async function setup(name: string) {
  const admin = await kit.person(2);
  const channel = await publicChannel(server, admin, name);
  const creator = await kit.person();
  const voter = await kit.person();
  const a = await openChat(server, creator.token);
  const b = await openChat(server, voter.token);
  await joinChannel(a, channel.name);
  await joinChannel(b, channel.name);
  return { admin, channel, creator, voter, a, b };
}

describe('chat polls', () => {
  it('creates, counts single-choice votes, refuses bad input and closes', async () => {
    const { admin, channel, a, b, voter } = await setup('polls-one');
    a.send({
      type: 'create_poll',
      channel: channel.name,
      question: ' Favorite? ',
      options: ['Py', 'JS', 'Rust'],
    });
    const created = await b.nextOf('poll_created');
    expect(created.message).toMatchObject({ message: 'Favorite?' });
    const poll = created.poll as Record<string, unknown>;
    expect(poll).toMatchObject({
      question: 'Favorite?',
      options: ['Py', 'JS', 'Rust'],
      votes: {},
      total_votes: 0,
      allow_multiple: false,
      anonymous_votes: false,
      closes_at: null,
      closed: false,
    });
    const id = poll.id as number;

    b.send({ type: 'vote_poll', poll_id: id, option_index: 0 });
    expect(await a.nextOf('poll_updated')).toEqual({
      type: 'poll_updated',
      poll_id: id,
      votes: { 0: 1 },
      total_votes: 1,
      voters: { 0: [{ user_id: voter.id, username: voter.username }] },
    });
    b.send({ type: 'vote_poll', poll_id: id, option_index: 2 });
    expect(await a.nextOf('poll_updated')).toMatchObject({ votes: { 2: 1 }, total_votes: 1 });
    a.send({ type: 'vote_poll', poll_id: id, option_index: 2 });
    expect(await a.nextOf('poll_updated')).toMatchObject({ votes: { 2: 2 }, total_votes: 2 });

    b.send({ type: 'vote_poll', poll_id: id, option_index: 3 });
    await expectError(b, /option_index/);
    a.send({ type: 'create_poll', channel: channel.name, question: 'q', options: ['only'] });
    await expectError(a, /2 to 10 options/);
    a.send({
      type: 'create_poll',
      channel: channel.name,
      question: 'q',
      options: Array.from({ length: 11 }, (_, i) => `o${i}`),
    });
    await expectError(a, /2 to 10 options/);
    a.send({ type: 'create_poll', channel: channel.name, question: 'x'.repeat(501), options: ['a', 'b'] });
    await expectError(a, /500 characters/);
    a.send({ type: 'create_poll', channel: channel.name, question: 'q', options: ['a', 'b'.repeat(201)] });
    await expectError(a, /200 characters/);
    a.send({ type: 'create_poll', channel: channel.name, question: 'q', options: ['a', 'a'] });
    await expectError(a, /different/);

    b.send({ type: 'close_poll', poll_id: id });
    await expectError(b, /creator or a moderator/);
    const mod = await openChat(server, admin.token);
    await joinChannel(mod, channel.name);
    mod.send({ type: 'close_poll', poll_id: id });
    expect(await b.nextOf('poll_closed')).toMatchObject({ poll_id: id, total_votes: 2 });
    a.send({ type: 'close_poll', poll_id: id });
    await expectError(a, 'This poll is already closed');
    b.send({ type: 'vote_poll', poll_id: id, option_index: 0 });
    await expectError(b, 'This poll is closed');

    const dump = await dumpAllTables(server.deps.database);
    expect(dump).not.toContain('Favorite?');
  });

  it('toggles multiple-choice votes; the creator closes; outsiders of private channels are refused', async () => {
    const { a, b, channel } = await setup('polls-multi');
    a.send({
      type: 'create_poll',
      channel: channel.name,
      question: 'Which?',
      options: ['x', 'y'],
      allow_multiple: true,
    });
    const id = ((await b.nextOf('poll_created')).poll as { id: number }).id;
    b.send({ type: 'vote_poll', poll_id: id, option_index: 0 });
    await a.nextOf('poll_updated');
    b.send({ type: 'vote_poll', poll_id: id, option_index: 1 });
    expect(await a.nextOf('poll_updated')).toMatchObject({ votes: { 0: 1, 1: 1 }, total_votes: 2 });
    b.send({ type: 'vote_poll', poll_id: id, option_index: 0 });
    expect(await a.nextOf('poll_updated')).toMatchObject({ votes: { 1: 1 }, total_votes: 1 });
    a.send({ type: 'close_poll', poll_id: id });
    expect(await b.nextOf('poll_closed')).toMatchObject({ poll_id: id });

    const owner = await kit.person(2);
    const priv = await ok(
      api(server, 'POST', '/api/chat/channels', {
        token: owner.token,
        body: { name: 'polls-private', visibility: 'private' },
      }),
    );
    const o = await openChat(server, owner.token);
    await joinChannel(o, priv.name as string);
    o.send({ type: 'create_poll', channel: priv.name, question: 'Secret?', options: ['y', 'n'] });
    const pid = ((await o.nextOf('poll_created')).poll as { id: number }).id;
    b.send({ type: 'vote_poll', poll_id: pid, option_index: 0 });
    await expectError(b, 'Poll not found');
  });

  it('carries poll state in history and REST history; voters unless anonymous_votes', async () => {
    const { a, b, channel, creator, voter } = await setup('polls-history');
    a.send({ type: 'create_poll', channel: channel.name, question: 'Open?', options: ['y', 'n'] });
    const open = ((await b.nextOf('poll_created')).poll as { id: number; voters: unknown }).id;
    a.send({
      type: 'create_poll',
      channel: channel.name,
      question: 'Secret?',
      options: ['y', 'n'],
      anonymous_votes: true,
    });
    const secret = (await b.nextOf('poll_created')).poll as { id: number };
    expect(secret).not.toHaveProperty('voters');

    b.send({ type: 'vote_poll', poll_id: open, option_index: 1 });
    expect(await a.nextOf('poll_updated')).toEqual({
      type: 'poll_updated',
      poll_id: open,
      votes: { 1: 1 },
      total_votes: 1,
      voters: { 1: [{ user_id: voter.id, username: voter.username }] },
    });
    b.send({ type: 'vote_poll', poll_id: secret.id, option_index: 0 });
    const hidden = await a.nextOf('poll_updated');
    expect(hidden).toEqual({ type: 'poll_updated', poll_id: secret.id, votes: { 0: 1 }, total_votes: 1 });
    // A vote cast in anonymous mode is counted and never attributed.
    await server.deps.database.query(sql`update users set anonymous = true where id = ${creator.id}`);
    a.send({ type: 'vote_poll', poll_id: open, option_index: 1 });
    expect((await a.nextOf('poll_updated')).voters).toEqual({
      1: [
        { user_id: voter.id, username: voter.username },
        { user_id: null, username: 'Anonymous' },
      ],
    });
    await server.deps.database.query(sql`update users set anonymous = false where id = ${creator.id}`);

    // A late joiner sees both polls, with counts, voters and their own votes.
    const late = await kit.person();
    const c = await openChat(server, late.token);
    const joined = await joinChannel(c, channel.name);
    const polls = (joined.history.messages as Array<{ poll?: Record<string, unknown> }>)
      .map((m) => m.poll)
      .filter(Boolean);
    expect(polls).toEqual([
      expect.objectContaining({
        id: open,
        options: ['y', 'n'],
        votes: { 1: 2 },
        total_votes: 2,
        my_votes: [],
      }),
      expect.objectContaining({ id: secret.id, votes: { 0: 1 }, total_votes: 1, anonymous_votes: true }),
    ]);
    expect(polls[1]).not.toHaveProperty('voters');
    const rest = await ok(
      api(server, 'GET', `/api/chat/channels/${channel.id}/messages`, { token: voter.token }),
    );
    const mine = (rest.messages as Array<{ poll?: { id: number; my_votes: number[]; voters?: unknown } }>)
      .map((m) => m.poll)
      .filter((p) => p !== undefined);
    expect(mine.map((p) => [p!.id, p!.my_votes])).toEqual([
      [open, [1]],
      [secret.id, [0]],
    ]);
    expect(mine[0]!.voters).toEqual({
      1: [
        { user_id: voter.id, username: voter.username },
        { user_id: null, username: 'Anonymous' },
      ],
    });
  });

  it('closes a poll by itself once its duration passed', async () => {
    const { a, b, channel } = await setup('polls-auto');
    a.send({
      type: 'create_poll',
      channel: channel.name,
      question: 'Soon?',
      options: ['y', 'n'],
      duration: 60,
    });
    const poll = (await b.nextOf('poll_created')).poll as { id: number; closes_at: string };
    expect(Date.parse(poll.closes_at) - Date.now()).toBeGreaterThan(59 * 60_000);
    await expirePoll(server.deps.database, poll.id);
    expect(await b.nextOf('poll_closed', 8000)).toMatchObject({ poll_id: poll.id });
  });
});

describe('poll closer across a restart', () => {
  it('closes a due poll with a server started on the same database', async () => {
    const dataDir = makeTempDir();
    const db = await createTestDatabaseUrl();
    const env = testEnv({ DATA_DIR: dataDir, DATABASE_URL: db.url });
    const log = createLogger('silent');
    const previous = server;
    try {
      let node = await startServer(env, { log });
      server = { ...node, dataDir, close: () => node.stop() } as TestServer;
      const { a, channel } = await setup('polls-restart');
      a.send({
        type: 'create_poll',
        channel: channel.name,
        question: 'Later?',
        options: ['y', 'n'],
        duration: 5,
      });
      const id = ((await a.nextOf('poll_created')).poll as { id: number }).id;
      await closePortalClients();
      await node.stop();

      node = await startServer(env, { log });
      server = { ...node, dataDir, close: () => node.stop() } as TestServer;
      const admin = await kit.person(2);
      const watcher = await openChat(server, admin.token);
      await joinChannel(watcher, channel.name);
      await expirePoll(node.deps.database, id);
      expect(await watcher.nextOf('poll_closed', 20_000)).toMatchObject({ poll_id: id });
      const [row] = await node.deps.database.query<{ closed_at: unknown }>(
        sql`select closed_at from chat_polls where id = ${id}`,
      );
      expect(row?.closed_at).not.toBeNull();
      await closePortalClients();
      await node.stop();
    } finally {
      server = previous;
      await db.drop();
      removeDir(dataDir);
    }
  }, 120_000);
});
