import { z } from 'zod';
import { RELAY_PLATFORMS } from '../../services/relays/platforms';
import { createRelay, deleteRelay, listRelays, updateRelay } from '../../services/relays/relays';
import { ZCreateRelayInput, ZRelayView, ZUpdateRelayInput } from '../../services/relays/schemas';
import type { Context } from '../context';
import { ZId, ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';

// Stream relays (API.md §7, seed 002 "Stream Relays"): the platforms list, and per stream the
// owner's relay destinations. API keys need the `relays` scope.

const tags = ['Stream relays'];

const deps = (ctx: Pick<Context, 'db' | 'deps'> & { actor: { userId: number } }) => ({
  db: ctx.db,
  secretBox: ctx.deps.secretBox,
  userId: ctx.actor.userId,
  allowPrivate: ctx.deps.env.RELAY_ALLOW_PRIVATE,
  changed: (streamId: number) => ctx.deps.relayChanges.notify(streamId),
});

const ZPlatform = z.object({ id: z.string(), name: z.string(), default_url: z.string() });
const ZStreamRelay = z.object({ id: ZId, relay_id: ZId });

export const relaysRouter = router({
  platforms: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/relay-platforms',
        tags,
        summary: 'Supported relay platforms with their default RTMP ingest URLs',
      },
    })
    .input(z.void())
    .output(z.object({ platforms: z.array(ZPlatform) }))
    .query(() => ({ platforms: RELAY_PLATFORMS.map((p) => ({ ...p })) })),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/streams/{id}/relays',
        tags,
        summary: "Your stream's relay destinations (keys never returned: has_stream_key)",
      },
    })
    .input(z.object({ id: ZId }))
    .output(z.object({ relays: z.array(ZRelayView) }))
    .query(({ ctx, input }) => listRelays({ ...deps(ctx), streamId: input.id })),

  create: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/streams/{id}/relays',
        tags,
        summary: 'Add a relay destination (at most 10 per stream)',
      },
    })
    .input(ZCreateRelayInput.extend({ id: ZId }))
    .output(ZRelayView)
    .mutation(({ ctx, input: { id, ...input } }) => createRelay({ ...deps(ctx), streamId: id, input })),

  update: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/api/streams/{id}/relays/{relay_id}',
        tags,
        summary: "Change a relay's name, URL, stream key or enabled state (only the fields sent)",
      },
    })
    .input(ZUpdateRelayInput.extend(ZStreamRelay.shape))
    .output(ZRelayView)
    .mutation(({ ctx, input: { id, relay_id, ...input } }) =>
      updateRelay({ ...deps(ctx), streamId: id, relayId: relay_id, input }),
    ),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/api/streams/{id}/relays/{relay_id}',
        tags,
        summary: 'Remove a relay destination (stopped at once if it is relaying)',
      },
    })
    .input(ZStreamRelay)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => deleteRelay({ ...deps(ctx), streamId: input.id, relayId: input.relay_id })),
});
