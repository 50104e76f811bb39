import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { count, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSecretBox } from '../../src/core/crypto';
import { loadEnv } from '../../src/core/env';
import { createLogger } from '../../src/core/log';
import { type Database, openDatabase } from '../../src/db/client';
import {
  channels,
  chatMessages,
  chatPolls,
  chatPollVotes,
  chatReactions,
  dmMessages,
} from '../../src/db/schema';
import { type RunningServer, startServer } from '../../src/server';
import { runRetention } from '../../src/services/retention/chat-messages';
import { startRetentionJob } from '../../src/services/retention/run-policies';
import { searchTokensOf } from '../../src/services/search/blind-index';
import { chatImageDir } from '../../src/services/uploads/chat-images';
import { uploadKeyOf } from '../../src/services/uploads/references';
import { createUser } from '../../src/services/users/accounts';
import { createTestDatabaseUrl } from '../helpers/database';
import { makeTempDir, removeDir, testEnv } from '../helpers/env';

// Chat message retention (API.md §8) on a real database: expired rows go in bounded batches,
// taking their reactions, search tokens, polls and votes with them; newer rows stay. Uploaded
// images go with the last message showing them, and unreferenced old uploads are swept.

let database: Database;
let drop: () => Promise<void>;
const key = Buffer.alloc(32, 3);
const box = createSecretBox(key);
const DAY = 86_400_000;
const now = new Date('2026-03-01T00:00:00Z');

beforeAll(async () => {
  const target = await createTestDatabaseUrl();
  drop = target.drop;
  database = await openDatabase(target.url ? { url: target.url } : { memory: true });
  await database.migrate();
});
afterAll(async () => {
  await database?.close();
  await drop?.();
});

async function seed(ages: number[], at: Date = now) {
  const db = database.db;
  const user = await createUser(db, { username: `ret_${process.pid}_${Date.now() % 100000}` });
  const [channel] = await db
    .insert(channels)
    .values({ name: `ret-${process.pid}-${Date.now() % 100000}` })
    .returning();
  const rows = await db
    .insert(chatMessages)
    .values(
      ages.map((days, i) => ({
        channelId: channel!.id,
        userId: user.id,
        text: box.encrypt(`message ${i}`),
        searchTokens: searchTokensOf(key, `message ${i}`),
        createdAt: new Date(at.getTime() - days * DAY),
      })),
    )
    .returning({ id: chatMessages.id });
  await db.insert(chatReactions).values(rows.map((r) => ({ messageId: r.id, userId: user.id, emoji: '👍' })));
  return { channelId: channel!.id };
}

const countIn = async (channelId: number) => {
  const [row] = await database.db
    .select({ n: count() })
    .from(chatMessages)
    .where(eq(chatMessages.channelId, channelId));
  return row!.n;
};

describe('chat retention', () => {
  it('deletes rows older than the retention period in batches and keeps newer ones', async () => {
    // 23 expired (8–30 days old), 5 kept (0–6 days), with reactions on every one.
    const ages = [...Array.from({ length: 23 }, (_, i) => 8 + i), 0, 1, 3, 6, 6.9];
    const { channelId } = await seed(ages);
    const result = await runRetention({ db: database.db, days: 7, now, batch: 5 });
    expect(result).toEqual({ deleted: 23, byTable: { chat_messages: 23, dm_messages: 0 } });
    expect(await countIn(channelId)).toBe(5);
    const [reactions] = await database.db.select({ n: count() }).from(chatReactions);
    expect(reactions!.n).toBe(5);
    // A second sweep finds nothing left to do.
    expect((await runRetention({ db: database.db, days: 7, now, batch: 5 })).deleted).toBe(0);
    // The boundary moves with the setting.
    expect((await runRetention({ db: database.db, days: 2, now, batch: 5 })).deleted).toBe(3);
  });

  it('stops between batches when asked', async () => {
    const { channelId } = await seed(Array.from({ length: 12 }, () => 40));
    let batches = 0;
    const result = await runRetention({
      db: database.db,
      days: 7,
      now,
      batch: 5,
      shouldStop: () => batches++ >= 1,
    });
    expect(result.deleted).toBe(5);
    expect(await countIn(channelId)).toBe(7);
  });

  it('runs a first sweep on start without waiting for it, and stops cleanly', async () => {
    // The job runs on the real clock.
    const { channelId } = await seed([400, 400, 0], new Date());
    const job = startRetentionJob({ db: database.db, env: loadEnv({}), log: createLogger('silent') });
    await vi.waitFor(async () => expect(await countIn(channelId)).toBe(1), { timeout: 10_000 });
    await job.stop();
  });
});

describe('what goes with an expired message', () => {
  it('takes its poll and the poll’s votes', async () => {
    const db = database.db;
    const { channelId } = await seed([30, 1]);
    const [old, fresh] = await db
      .select({ id: chatMessages.id, userId: chatMessages.userId })
      .from(chatMessages)
      .where(eq(chatMessages.channelId, channelId))
      .orderBy(chatMessages.id);
    const polls = await db
      .insert(chatPolls)
      .values(
        [old!, fresh!].map((m) => ({
          messageId: m.id,
          channelId,
          creatorId: m.userId,
          content: box.encrypt(JSON.stringify({ question: 'q', options: ['a', 'b'] })),
          optionCount: 2,
        })),
      )
      .returning({ id: chatPolls.id });
    await db
      .insert(chatPollVotes)
      .values(polls.map((p) => ({ pollId: p.id, userId: old!.userId!, optionIndex: 0 })));
    await runRetention({ db, days: 7, now });
    const ids = polls.map((p) => p.id);
    const left = await db.select({ id: chatPolls.id }).from(chatPolls).where(inArray(chatPolls.id, ids));
    expect(left.map((p) => p.id)).toEqual([polls[1]!.id]);
    const votes = await db.select().from(chatPollVotes).where(inArray(chatPollVotes.pollId, ids));
    expect(votes.map((v) => v.pollId)).toEqual([polls[1]!.id]);
  });

  it('deletes an upload with the last message showing it, and sweeps unreferenced old uploads', async () => {
    const db = database.db;
    const dataDir = makeTempDir();
    try {
      const dir = chatImageDir(dataDir);
      mkdirSync(dir, { recursive: true });
      const file = (tag: string) => `${tag.padEnd(22, 'x')}.png`;
      const names = {
        gone: file('gone'), // only on an expired message
        shared: file('shared'), // on an expired message and on a fresh DM
        orphanOld: file('orphanold'), // never sent, older than the grace period
        orphanNew: file('orphannew'), // never sent, still within it
      };
      for (const name of Object.values(names)) writeFileSync(join(dir, name), 'png');
      const dayAgo = (now.getTime() - 2 * DAY) / 1000;
      for (const name of [names.gone, names.shared, names.orphanOld])
        utimesSync(join(dir, name), dayAgo, dayAgo);
      const url = (name: string) => `/static/uploads/chat/${name}`;
      const { channelId } = await seed([1]);
      const image = (name: string) => ({
        attachments: box.encrypt(JSON.stringify({ image_url: url(name) })),
        uploadKey: uploadKeyOf(key, url(name)),
      });
      await db.insert(chatMessages).values([
        {
          channelId,
          text: box.encrypt('old'),
          createdAt: new Date(now.getTime() - 30 * DAY),
          ...image(names.gone),
        },
        {
          channelId,
          text: box.encrypt('old'),
          createdAt: new Date(now.getTime() - 30 * DAY),
          ...image(names.shared),
        },
      ]);
      const [conversation] = await database.query<{ id: number }>(
        sql`insert into dm_conversations (type) values ('group') returning id`,
      );
      await db.insert(dmMessages).values({
        conversationId: conversation!.id,
        text: box.encrypt('fresh'),
        createdAt: now,
        ...image(names.shared),
      });
      const result = await runRetention({
        db,
        days: 7,
        now,
        uploads: { secretBox: box, secretKey: key, dataDir, log: createLogger('silent') },
      });
      expect(result.uploads).toBe(1);
      expect(existsSync(join(dir, names.gone))).toBe(false);
      expect(existsSync(join(dir, names.shared))).toBe(true);
      expect(existsSync(join(dir, names.orphanOld))).toBe(false);
      expect(existsSync(join(dir, names.orphanNew))).toBe(true);
    } finally {
      removeDir(dataDir);
    }
  });
});

describe('the server’s own retention job', () => {
  it('follows CHAT_RETENTION_DAYS: a server started with 2 days deletes a 3-day-old message', async () => {
    const dataDir = makeTempDir();
    const target = await createTestDatabaseUrl();
    const env = testEnv({ DATA_DIR: dataDir, DATABASE_URL: target.url, CHAT_RETENTION_DAYS: '2' });
    const log = createLogger('silent');
    let node: RunningServer | undefined;
    try {
      node = await startServer(env, { log });
      const db = node.deps.database.db;
      const user = await createUser(db, { username: `retsrv_${process.pid}` });
      const [channel] = await db
        .insert(channels)
        .values({ name: `retsrv-${process.pid}` })
        .returning();
      const seal = node.deps.secretBox;
      await db.insert(chatMessages).values(
        [3, 1].map((days) => ({
          channelId: channel!.id,
          userId: user.id,
          text: seal.encrypt(`${days} days old`),
          createdAt: new Date(Date.now() - days * DAY),
        })),
      );
      // The job sweeps when a server starts (and every 10 minutes): start it again.
      await node.stop();
      node = undefined;
      const restarted = await startServer(env, { log });
      node = restarted;
      const left = async () =>
        (
          await restarted.deps.database.db
            .select({ text: chatMessages.text })
            .from(chatMessages)
            .where(eq(chatMessages.channelId, channel!.id))
        ).map((r) => restarted.deps.secretBox.decrypt(r.text));
      await vi.waitFor(async () => expect(await left()).toEqual(['1 days old']), { timeout: 20_000 });
    } finally {
      await node?.stop();
      await target.drop();
      removeDir(dataDir);
    }
  }, 60_000);
});
