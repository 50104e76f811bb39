import { z } from 'zod';
import { startPollCloser } from '../../../services/chat/poll-closer';
import { closePoll, createPoll, votePoll } from '../../../services/chat/polls';
import { type ChatHubContext, defineChatHandler } from '../hub';

// Poll frames of seed 002 on /ws/chat. Results reach the channel through the Bus (poll_created,
// poll_updated, poll_closed); the handlers only call the services. This module also runs the
// node's poll closer for as long as the hub lives.

const ZId = z.number().int().positive().max(2_147_483_647);

const schemas = {
  create_poll: z.object({
    type: z.literal('create_poll'),
    channel: z.string().min(1).max(50),
    question: z
      .string()
      .trim()
      .min(1, { error: 'question is required' })
      .max(500, { error: 'question must be at most 500 characters' }),
    options: z
      .array(
        z
          .string()
          .trim()
          .min(1, { error: 'options must not be empty' })
          .max(200, { error: 'each option must be at most 200 characters' }),
      )
      .min(2, { error: 'a poll needs 2 to 10 options' })
      .max(10, { error: 'a poll needs 2 to 10 options' }),
    allow_multiple: z.boolean().optional(),
    anonymous_votes: z.boolean().optional(),
    duration: z
      .number()
      .int()
      .min(1, { error: 'duration must be 1 to 43200 minutes' })
      .max(43_200, { error: 'duration must be 1 to 43200 minutes' })
      .optional(),
  }),
  vote_poll: z.object({
    type: z.literal('vote_poll'),
    poll_id: ZId,
    option_index: z.number().int().min(0, { error: 'option_index must be 0 or more' }).max(9),
  }),
  close_poll: z.object({ type: z.literal('close_poll'), poll_id: ZId }),
};

export function registerPollHandlers({ hub, deps }: ChatHubContext) {
  hub.on(
    'create_poll',
    defineChatHandler({
      schema: schemas.create_poll,
      requiresUser: true,
      handle: async ({ user }, { type: _type, ...input }) => {
        await createPoll(deps, user!, input);
      },
    }),
  );
  hub.on(
    'vote_poll',
    defineChatHandler({
      schema: schemas.vote_poll,
      requiresUser: true,
      handle: async ({ user }, m) => {
        await votePoll(deps, user!, m.poll_id, m.option_index);
      },
    }),
  );
  hub.on(
    'close_poll',
    defineChatHandler({
      schema: schemas.close_poll,
      requiresUser: true,
      handle: async ({ user }, m) => {
        await closePoll(deps, user!, m.poll_id);
      },
    }),
  );
  // Chained into hub.close() so registering polls stays one line in hub.ts.
  const stopCloser = startPollCloser(deps);
  const closeHub = hub.close.bind(hub);
  hub.close = async () => {
    stopCloser();
    await closeHub();
  };
}
