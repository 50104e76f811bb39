import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { AppError } from '../../core/errors';
import { chatPolls, chatPollVotes, users } from '../../db/schema';
import { assertActive, readableChannel } from './access';
import { publishChannelEvent } from './events';
import { sendMessage } from './messages';
import { type PollRow, pollView, tallyOf } from './poll-views';
import type { ChatActor, ChatDeps } from './types';

// Polls of seed 002 ("Polls", "Poll Constraints"). A poll is a channel message (its text is the
// question) plus a chat_polls row whose question and options are sealed like message text. How a
// poll reads (counts, voters) is in poll-views.ts.

export const ZCreatePollInput = z.object({
  channel: z.string(),
  question: z.string().trim().min(1).max(500),
  options: z.array(z.string().trim().min(1).max(200)).min(2).max(10),
  allow_multiple: z.boolean().optional(),
  anonymous_votes: z.boolean().optional(),
  duration: z.number().int().min(1).max(43_200).optional(),
});
export type CreatePollInput = z.infer<typeof ZCreatePollInput>;

export async function createPoll(deps: ChatDeps, actor: ChatActor, raw: CreatePollInput) {
  const input = ZCreatePollInput.parse(raw);
  if (new Set(input.options).size !== input.options.length)
    throw new AppError('BAD_REQUEST', 'Poll options must be different');
  let poll: Awaited<ReturnType<typeof pollView>> | undefined;
  // One frame: the poll's message wrapped in `poll_created` (masked for anonymous authors alike).
  return sendMessage(
    deps,
    actor,
    { channel: input.channel, message: input.question },
    {
      async afterInsert(messageId, channelId) {
        const [row] = await deps.db
          .insert(chatPolls)
          .values({
            messageId,
            channelId,
            creatorId: actor.userId,
            content: deps.secretBox.encrypt(
              JSON.stringify({ question: input.question, options: input.options }),
            ),
            optionCount: input.options.length,
            allowMultiple: input.allow_multiple ?? false,
            anonymousVotes: input.anonymous_votes ?? false,
            closesAt: input.duration === undefined ? null : new Date(Date.now() + input.duration * 60_000),
          })
          .returning();
        poll = await pollView(deps, row!);
      },
      frameOf: (message) => ({ type: 'poll_created', message, poll }),
      automodText: [input.question, ...input.options].join('\n'),
    },
  );
}

/** The poll with the caller's channel access (404 when the channel is not readable). */
async function pollForActor(deps: ChatDeps, actor: ChatActor, pollId: number) {
  const [row] = await deps.db.select().from(chatPolls).where(eq(chatPolls.id, pollId));
  if (!row) throw new AppError('NOT_FOUND', 'Poll not found');
  const access = await readableChannel(deps.db, { id: row.channelId }, actor).catch(() => {
    throw new AppError('NOT_FOUND', 'Poll not found');
  });
  return { row, access };
}

const closedNow = (row: PollRow) =>
  row.closedAt !== null || (row.closesAt !== null && row.closesAt <= new Date());

export async function votePoll(deps: ChatDeps, actor: ChatActor, pollId: number, optionIndex: number) {
  const { row } = await pollForActor(deps, actor, pollId);
  await assertActive(deps.db, actor.userId);
  if (closedNow(row)) throw new AppError('BAD_REQUEST', 'This poll is closed');
  if (!Number.isInteger(optionIndex) || optionIndex < 0 || optionIndex >= row.optionCount)
    throw new AppError('BAD_REQUEST', `option_index must be between 0 and ${row.optionCount - 1}`);
  const mine = and(eq(chatPollVotes.pollId, pollId), eq(chatPollVotes.userId, actor.userId));
  // Stored per vote, like a message's anonymity: a vote cast anonymously stays unattributed.
  const [me] = await deps.db
    .select({ anonymous: users.anonymous })
    .from(users)
    .where(eq(users.id, actor.userId));
  const vote = { pollId, userId: actor.userId, optionIndex, anonymous: me?.anonymous ?? false };
  await deps.db.transaction(async (tx) => {
    if (row.allowMultiple) {
      // Multiple choice toggles the option.
      const gone = await tx
        .delete(chatPollVotes)
        .where(and(mine, eq(chatPollVotes.optionIndex, optionIndex)))
        .returning();
      if (gone.length === 0) await tx.insert(chatPollVotes).values(vote).onConflictDoNothing();
    } else {
      // Single choice: the new vote replaces the old one.
      await tx.delete(chatPollVotes).where(mine);
      await tx.insert(chatPollVotes).values(vote).onConflictDoNothing();
    }
  });
  const frame = { type: 'poll_updated', poll_id: pollId, ...(await tallyOf(deps, row)) };
  await publishChannelEvent(deps, row.channelId, frame);
  return frame;
}

export async function closePoll(deps: ChatDeps, actor: ChatActor, pollId: number) {
  const { row, access } = await pollForActor(deps, actor, pollId);
  if (row.creatorId !== actor.userId && !access.isModerator)
    throw new AppError('FORBIDDEN', 'Only the poll creator or a moderator can close this poll');
  // The conditional update decides the winner against the closer and other nodes.
  const [closed] = await deps.db
    .update(chatPolls)
    .set({ closedAt: new Date() })
    .where(and(eq(chatPolls.id, pollId), sql`${chatPolls.closedAt} is null`))
    .returning();
  if (!closed) throw new AppError('BAD_REQUEST', 'This poll is already closed');
  return announceClosed(deps, closed);
}

export async function announceClosed(deps: ChatDeps, row: PollRow) {
  const frame = { type: 'poll_closed', poll_id: row.id, ...(await tallyOf(deps, row)) };
  await publishChannelEvent(deps, row.channelId, frame);
  return frame;
}
