import { z } from 'zod';
import {
  authorizedKeys,
  createSshKey,
  deleteSshKey,
  getSshKey,
  listSshKeys,
  SSH_KEY_TYPES,
} from '../../services/ssh-keys/ssh-keys';
import { ZDisplayName, ZId, ZIsoDate, ZListPage, ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';

const tags = ['SSH keys'];

const ZSshKeyView = z.object({
  id: z.number(),
  name: z.string(),
  key_type: z.string(),
  public_key: z.string(),
  fingerprint: z.string(),
  created_at: ZIsoDate,
});

export const sshKeysRouter = router({
  create: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/ssh-keys',
        tags,
        summary: 'Generate a key pair (private key shown once)',
      },
    })
    .input(z.object({ name: ZDisplayName, key_type: z.enum(SSH_KEY_TYPES).default('ed25519') }))
    .output(ZSshKeyView.extend({ private_key: z.string() }))
    .mutation(({ ctx, input }) =>
      createSshKey({
        db: ctx.db,
        userId: ctx.actor.userId,
        name: input.name,
        keyType: input.key_type,
        maxKeys: ctx.deps.env.MAX_SSH_KEYS_PER_USER,
      }),
    ),

  list: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/api/ssh-keys', tags, summary: 'Your SSH keys (public keys only)' },
    })
    .input(ZListPage(50))
    .output(z.object({ keys: z.array(ZSshKeyView), total: z.number() }))
    .query(({ ctx, input }) => listSshKeys(ctx.db, ctx.actor.userId, input)),

  authorizedKeys: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/ssh-keys/authorized_keys',
        tags,
        summary: 'All your public keys in authorized_keys format',
      },
    })
    .input(z.void())
    .output(z.object({ authorized_keys: z.string() }))
    .query(async ({ ctx }) => ({ authorized_keys: await authorizedKeys(ctx.db, ctx.actor.userId) })),

  get: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/api/ssh-keys/{id}', tags, summary: 'One SSH key (public key only)' },
    })
    .input(z.object({ id: ZId }))
    .output(ZSshKeyView)
    .query(({ ctx, input }) => getSshKey(ctx.db, ctx.actor.userId, input.id)),

  delete: authedProcedure
    .meta({ openapi: { method: 'DELETE', path: '/api/ssh-keys/{id}', tags, summary: 'Delete an SSH key' } })
    .input(z.object({ id: ZId }))
    .output(ZSuccess)
    .mutation(async ({ ctx, input }) => {
      await deleteSshKey(ctx.db, ctx.actor.userId, input.id);
      return { success: true as const };
    }),
});
