import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { joinChannel, openChat, publicChannel } from '../helpers/chat-client';
import { dumpAllTables } from '../helpers/database';
import { api } from '../helpers/identity';
import { closePortalClients, type PortalClient } from '../helpers/portal-client';
import { type Json, ok, type Person, roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// The "must show": messages with unique words sent over /ws/chat into a public channel, a
// private channel, a 1:1 DM and a group DM (plus an edit and a poll); a dump of every table finds
// none of the words, and GET /api/search still finds each word for those who may read it and for
// nobody else (outsiders, and Admin+ for DMs). On the embedded database the data directory's files
// (WAL included) are searched byte by byte too.

let server: TestServer;
const { person } = roomKit(() => server);

beforeAll(async () => {
  server = await startTestServer({ env: { ...NO_REQUEST_LIMITS, CHAT_RATE_MESSAGES: '1000' } });
});
afterAll(() => server?.close());
afterEach(closePortalClients);

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** A word no other test or seed row contains, lower case (search normalises to it anyway). */
const unique = (label: string) => `${label}${process.pid}q${Math.random().toString(36).slice(2, 8)}`;

async function nextWith(ws: PortalClient, type: string, text: string) {
  for (;;) {
    const frame = await ws.nextOf(type);
    if (JSON.stringify(frame).includes(text)) return frame;
  }
}

describe('messages at rest and search', () => {
  it('stores no word in plaintext, and search finds each word for readers only', async () => {
    const admin = await person(2);
    const [alice, bob, carol, outsider] = [await person(), await person(), await person(), await person()];
    const words = {
      public: unique('pubword'),
      private: unique('privword'),
      direct: unique('dmword'),
      group: unique('groupword'),
      edited: unique('editword'),
      poll: unique('pollword'),
    };

    // A public channel, and Alice's private channel with Bob as a member.
    const open = await publicChannel(server, admin, `rest-${process.pid}`);
    const secret = await ok(
      api(server, 'POST', '/api/chat/channels', {
        token: alice.token,
        body: { name: `hush-${process.pid}` },
      }),
    );
    await ok(
      api(server, 'POST', `/api/chat/channels/${secret.id}/members`, {
        token: alice.token,
        body: { user_id: bob.id },
      }),
    );
    const a = await openChat(server, alice.token);
    await joinChannel(a, open.name);
    await joinChannel(a, secret.name);

    a.send({ type: 'message', channel: open.name, message: `Hello ${words.public} everyone` });
    await nextWith(a, 'message', words.public);
    a.send({ type: 'message', channel: secret.name, message: `Just us: ${words.private}` });
    const privateMessage = await nextWith(a, 'message', words.private);
    a.send({
      type: 'edit_message',
      message_id: privateMessage.id,
      message: `Now ${words.edited}, ${words.private}`,
    });
    await nextWith(a, 'message_edited', words.edited);
    a.send({
      type: 'create_poll',
      channel: secret.name,
      question: `Which ${words.poll}?`,
      options: ['one', 'two'],
    });
    await nextWith(a, 'poll_created', words.poll);

    // A 1:1 DM with Bob and a group with Bob and Carol.
    const direct = await ok(
      api(server, 'POST', '/api/dm/conversations', { token: alice.token, body: { user_id: bob.id } }),
    );
    const group = await ok(
      api(server, 'POST', '/api/dm/conversations', {
        token: alice.token,
        body: { user_ids: [bob.id, carol.id], name: 'trio' },
      }),
    );
    a.send({ type: 'dm_message', conversation_id: direct.id, message: `psst ${words.direct}` });
    await nextWith(a, 'dm_message', words.direct);
    a.send({ type: 'dm_message', conversation_id: group.id, message: `team ${words.group}` });
    await nextWith(a, 'dm_message', words.group);

    const dump = (await dumpAllTables(server.deps.database)).toLowerCase();
    expect(dump).toContain('chat_messages');
    expect(dump).toContain('dm_messages');
    for (const word of Object.values(words)) expect(dump).not.toContain(word);
    if (server.deps.database.kind === 'pglite') {
      // The embedded database's files themselves (tables, TOAST, indexes and the WAL), flushed.
      await server.deps.database.query(sql`checkpoint`);
      const files = filesUnder(join(server.dataDir, 'pgdata'));
      expect(files.some((f) => f.includes('pg_wal'))).toBe(true);
      for (const file of files) {
        const bytes = readFileSync(file);
        for (const word of Object.values(words))
          expect(bytes.includes(word), `${word} in ${file}`).toBe(false);
      }
    } else
      console.warn('PostgreSQL run: the database files belong to the server; the table dump stands alone');

    const found = async (who: Person, word: string) =>
      ((await ok(api(server, 'GET', `/api/search?q=${word}`, { token: who.token }))).results as Json[]).map(
        (r) => (r.source === 'channel' ? `channel:${r.channel_id}` : `dm:${r.conversation_id}`),
      );
    const expected: Array<[string, string, Person[], Person[]]> = [
      [words.public, `channel:${open.id}`, [alice, bob, carol, outsider, admin], []],
      [words.private, `channel:${secret.id}`, [alice, bob, admin], [carol, outsider]],
      [words.edited, `channel:${secret.id}`, [alice, bob], [carol, outsider]],
      [words.poll, `channel:${secret.id}`, [alice, bob], [outsider]],
      [words.direct, `dm:${direct.id}`, [alice, bob], [carol, outsider, admin]],
      [words.group, `dm:${group.id}`, [alice, bob, carol], [outsider, admin]],
    ];
    for (const [word, where, readers, others] of expected) {
      for (const who of readers)
        expect(await found(who, word), `${who.username} finds ${word}`).toEqual([where]);
      for (const who of others) expect(await found(who, word), `${who.username} finds ${word}`).toEqual([]);
    }
  });
});
