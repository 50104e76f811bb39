import { z } from 'zod';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import {
  connectInfo,
  createConnection,
  deleteConnection,
  getConnection,
  listConnections,
  togglePin,
  updateConnection,
} from '../../services/connections/connections';
import { CONNECTION_TYPE_NAMES, describeConnectionTypes, ZPort } from '../../services/connections/types';
import { clearCookies } from '../../services/web-proxy/cookie-jar';
import { ZDisplayName, ZIsoDate, ZListPage, ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';

const tags = ['Connections'];

/** Opaque random ids (seed 002), e.g. `aB3x_kLm9pQ2rStU`. */
const ZConnectionId = z.string().trim().min(1).max(64);
const ZConfig = z.record(z.string(), z.unknown());

const ZConnectionView = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  host: z.string(),
  port: z.number(),
  config: ZConfig.describe('Type-specific settings; secrets appear only as has_<field> booleans'),
  is_pinned: z.boolean(),
  created_at: ZIsoDate,
  updated_at: ZIsoDate,
});

const ZTypeInfo = z.object({
  name: z.string(),
  icon: z.string(),
  default_port: z.number().nullable(),
  plugin: z.string(),
  config_schema: z.record(z.string(), z.unknown()),
});

const deps = (ctx: { db: Db; deps: { secretBox: SecretBox }; actor: { userId: number } }) => ({
  db: ctx.db,
  box: ctx.deps.secretBox,
  userId: ctx.actor.userId,
});

export const connectionsRouter = router({
  types: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/connection-types',
        tags,
        summary: 'Connection types and their form schemas',
      },
    })
    .input(z.void())
    .output(z.object({ types: z.record(z.string(), ZTypeInfo) }))
    .query(() => describeConnectionTypes()),

  list: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/api/connections', tags, summary: 'Your connections, pinned first' },
    })
    .input(ZListPage(200))
    .output(z.object({ connections: z.array(ZConnectionView), total: z.number() }))
    .query(({ ctx, input }) => listConnections({ ...deps(ctx), ...input })),

  create: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/api/connections', tags, summary: 'Create a connection' } })
    .input(
      z.object({
        name: ZDisplayName,
        type: z.enum(CONNECTION_TYPE_NAMES),
        host: z.string(),
        port: ZPort.optional().describe("Defaults to the type's default_port"),
        config: ZConfig.optional(),
      }),
    )
    .output(ZConnectionView)
    .mutation(({ ctx, input }) =>
      createConnection({ ...deps(ctx), ...input, maxConnections: ctx.deps.env.MAX_CONNECTIONS_PER_USER }),
    ),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/connections/{id}',
        tags,
        summary: 'One connection (secrets redacted)',
      },
    })
    .input(z.object({ id: ZConnectionId }))
    .output(ZConnectionView)
    .query(({ ctx, input }) => getConnection({ ...deps(ctx), id: input.id })),

  update: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/api/connections/{id}',
        tags,
        summary: 'Update a connection (config merged: secrets not sent are kept, null clears)',
      },
    })
    .input(
      z.object({
        id: ZConnectionId,
        name: ZDisplayName.optional(),
        host: z.string().optional(),
        port: ZPort.optional(),
        config: ZConfig.optional(),
      }),
    )
    .output(ZConnectionView)
    .mutation(({ ctx, input }) => updateConnection({ ...deps(ctx), ...input })),

  delete: authedProcedure
    .meta({
      openapi: { method: 'DELETE', path: '/api/connections/{id}', tags, summary: 'Delete a connection' },
    })
    .input(z.object({ id: ZConnectionId }))
    .output(ZSuccess)
    .mutation(async ({ ctx, input }) => {
      await deleteConnection({ ...deps(ctx), id: input.id });
      return { success: true as const };
    }),

  pin: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/api/connections/{id}/pin', tags, summary: 'Toggle pinned' } })
    .input(z.object({ id: ZConnectionId }))
    .output(z.object({ is_pinned: z.boolean() }))
    .mutation(({ ctx, input }) => togglePin({ ...deps(ctx), id: input.id })),

  connect: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/connections/{id}/connect',
        tags,
        summary: 'What a viewer needs: the connection, its SSH public key, the WebSocket URL',
      },
    })
    .input(z.object({ id: ZConnectionId }))
    .output(
      z.object({
        connection: ZConnectionView,
        ssh_public_key: z.string().optional(),
        websocket_url: z.string(),
        browser_url: z.string().optional().describe('Web connections: the embedded browser page'),
      }),
    )
    .query(({ ctx, input }) => connectInfo({ ...deps(ctx), id: input.id })),

  clearCookies: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/api/connections/{id}/cookies',
        tags,
        summary: 'Forget the cookies that sites set through the web proxy for this connection',
      },
    })
    .input(z.object({ id: ZConnectionId }))
    .output(ZSuccess)
    .mutation(async ({ ctx, input }) => {
      await clearCookies({ db: ctx.db, userId: ctx.actor.userId, id: input.id });
      return { success: true as const };
    }),
});
