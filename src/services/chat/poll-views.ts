import { and, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { chatPolls, chatPollVotes, users } from '../../db/schema';
import type { ChatDeps } from './types';

// How a poll reads (seed 002 "Polls"): its sealed question and options opened, the vote counts
// (`total_votes` counts votes, so it equals the sum of `votes` as in the seed's example), and,
// unless the poll has `anonymous_votes`, who voted for what: `voters` per option. A vote cast in
// anonymous mode is counted but never attributed ({user_id: null, username: "Anonymous"}), for
// everyone alike. History frames add `my_votes`, the reader's own choices.

export type PollRow = typeof chatPolls.$inferSelect;
type Deps = Pick<ChatDeps, 'db' | 'secretBox'>;
type Voter = { user_id: number | null; username: string };

const ZContent = z.object({ question: z.string(), options: z.array(z.string()) });

export type PollTally = {
  votes: Record<string, number>;
  total_votes: number;
  voters?: Record<string, Voter[]>;
};

/** Counts (and voters, for polls without anonymous votes) of several polls, in two queries. */
export async function talliesOf(deps: Deps, rows: PollRow[]): Promise<Map<number, PollTally>> {
  const tallies = new Map<number, PollTally>();
  for (const row of rows) {
    tallies.set(row.id, { votes: {}, total_votes: 0, ...(!row.anonymousVotes && { voters: {} }) });
  }
  if (rows.length === 0) return tallies;
  const counts = await deps.db
    .select({
      pollId: chatPollVotes.pollId,
      option: chatPollVotes.optionIndex,
      n: sql<number>`count(*)::int`,
    })
    .from(chatPollVotes)
    .where(
      inArray(
        chatPollVotes.pollId,
        rows.map((r) => r.id),
      ),
    )
    .groupBy(chatPollVotes.pollId, chatPollVotes.optionIndex);
  for (const c of counts) {
    const t = tallies.get(c.pollId)!;
    t.votes[String(c.option)] = Number(c.n);
    t.total_votes += Number(c.n);
  }
  const open = rows.filter((r) => !r.anonymousVotes).map((r) => r.id);
  if (open.length > 0) {
    const votes = await deps.db
      .select({
        pollId: chatPollVotes.pollId,
        option: chatPollVotes.optionIndex,
        userId: chatPollVotes.userId,
        anonymous: chatPollVotes.anonymous,
        username: users.username,
      })
      .from(chatPollVotes)
      .innerJoin(users, eq(users.id, chatPollVotes.userId))
      .where(inArray(chatPollVotes.pollId, open))
      .orderBy(chatPollVotes.createdAt, chatPollVotes.userId);
    for (const v of votes) {
      const voters = tallies.get(v.pollId)!.voters!;
      const list = voters[String(v.option)] ?? [];
      list.push(
        v.anonymous ? { user_id: null, username: 'Anonymous' } : { user_id: v.userId, username: v.username },
      );
      voters[String(v.option)] = list;
    }
  }
  return tallies;
}

export async function tallyOf(deps: Deps, row: PollRow): Promise<PollTally> {
  return (await talliesOf(deps, [row])).get(row.id)!;
}

function describePoll(deps: Deps, row: PollRow, tally: PollTally) {
  const { question, options } = ZContent.parse(JSON.parse(deps.secretBox.decrypt(row.content)));
  return {
    id: row.id,
    message_id: row.messageId,
    question,
    options,
    ...tally,
    allow_multiple: row.allowMultiple,
    anonymous_votes: row.anonymousVotes,
    closes_at: row.closesAt?.toISOString() ?? null,
    closed: row.closedAt !== null,
  };
}

/** The poll as everyone sees it (`poll_created`). */
export async function pollView(deps: Deps, row: PollRow) {
  return describePoll(deps, row, await tallyOf(deps, row));
}

export type PollView = Awaited<ReturnType<typeof pollView>> & { my_votes?: number[] };

/** Poll state for the poll messages among `messageIds`, as `viewerId` reads them (history). */
export async function pollsOfMessages(deps: Deps, messageIds: number[], viewerId: number) {
  const byMessage = new Map<number, PollView>();
  if (messageIds.length === 0) return byMessage;
  const rows = await deps.db.select().from(chatPolls).where(inArray(chatPolls.messageId, messageIds));
  if (rows.length === 0) return byMessage;
  const tallies = await talliesOf(deps, rows);
  const mine = await deps.db
    .select({ pollId: chatPollVotes.pollId, option: chatPollVotes.optionIndex })
    .from(chatPollVotes)
    .where(
      and(
        inArray(
          chatPollVotes.pollId,
          rows.map((r) => r.id),
        ),
        eq(chatPollVotes.userId, viewerId),
      ),
    )
    .orderBy(chatPollVotes.optionIndex);
  for (const row of rows) {
    const my = mine.filter((v) => v.pollId === row.id).map((v) => v.option);
    byMessage.set(row.messageId, { ...describePoll(deps, row, tallies.get(row.id)!), my_votes: my });
  }
  return byMessage;
}
