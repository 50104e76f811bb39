import { z } from 'zod';
import type { SecretBox } from '../../core/crypto';
import type { Db } from '../../db/client';
import {
  deletePath,
  listDirectory,
  MAX_READ_BYTES,
  makeDirectory,
  readFile,
  renamePath,
  writeFile,
} from '../../services/sftp/sftp';
import { ZIsoDate, ZSuccess } from '../fields';
import { authedProcedure, router } from '../trpc';

// The SFTP browser (API.md §6) on the caller's own SSH connections: an SSH session per request.

const tags = ['SFTP'];

const ZConnectionId = z.string().trim().min(1).max(64);
const ZRemotePath = z
  .string()
  .max(4096)
  .describe('Remote POSIX path; relative paths start at the login directory');

/** One directory entry (shared with the VOD SFTP manager). */
export const ZSftpEntry = z.object({
  name: z.string(),
  type: z.enum(['file', 'directory', 'symlink']),
  size: z.number(),
  modified: ZIsoDate,
  permissions: z.string().describe('Octal mode bits, e.g. 0644'),
});

/** A file read as text, or as base64 when it is not UTF-8 (shared with the VOD SFTP manager). */
export const ZSftpReadResult = z.object({
  path: z.string(),
  content: z.string(),
  size: z.number(),
  encoding: z.enum(['utf8', 'base64']).describe('base64 when the file is not UTF-8 text'),
});

/** Text or base64 of at most 5 MB (shared with the VOD SFTP manager). */
export const ZSftpContent = z.string().max(Math.ceil((MAX_READ_BYTES * 4) / 3) + 4);

const deps = (
  ctx: { db: Db; deps: { secretBox: SecretBox }; actor: { userId: number } },
  connectionId: string,
) => ({ db: ctx.db, box: ctx.deps.secretBox, userId: ctx.actor.userId, connectionId });

const path = (p: string) => `/api/sftp/{connection_id}/${p}` as const;

export const sftpRouter = router({
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: path('list'), tags, summary: 'List a remote directory' } })
    .input(z.object({ connection_id: ZConnectionId, path: ZRemotePath.default('/') }))
    .output(z.object({ path: z.string(), entries: z.array(ZSftpEntry) }))
    .query(({ ctx, input }) => listDirectory(deps(ctx, input.connection_id), input.path)),

  read: authedProcedure
    .meta({
      openapi: { method: 'GET', path: path('read'), tags, summary: 'Read a remote file (5 MB max)' },
    })
    .input(z.object({ connection_id: ZConnectionId, path: ZRemotePath.min(1) }))
    .output(ZSftpReadResult)
    .query(({ ctx, input }) => readFile(deps(ctx, input.connection_id), input.path)),

  write: authedProcedure
    .meta({ openapi: { method: 'POST', path: path('write'), tags, summary: 'Write a remote file' } })
    .input(
      z.object({
        connection_id: ZConnectionId,
        path: ZRemotePath.min(1),
        content: ZSftpContent,
        encoding: z.enum(['utf8', 'base64']).default('utf8'),
      }),
    )
    .output(ZSuccess)
    .mutation(({ ctx, input }) =>
      writeFile(deps(ctx, input.connection_id), input.path, input.content, input.encoding),
    ),

  mkdir: authedProcedure
    .meta({ openapi: { method: 'POST', path: path('mkdir'), tags, summary: 'Create a remote directory' } })
    .input(z.object({ connection_id: ZConnectionId, path: ZRemotePath.min(1) }))
    .output(ZSuccess)
    .mutation(({ ctx, input }) => makeDirectory(deps(ctx, input.connection_id), input.path)),

  rename: authedProcedure
    .meta({
      openapi: { method: 'POST', path: path('rename'), tags, summary: 'Rename or move a remote path' },
    })
    .input(
      z.object({ connection_id: ZConnectionId, old_path: ZRemotePath.min(1), new_path: ZRemotePath.min(1) }),
    )
    .output(ZSuccess)
    .mutation(({ ctx, input }) => renamePath(deps(ctx, input.connection_id), input.old_path, input.new_path)),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: path('delete'),
        tags,
        summary: 'Delete a remote file or empty directory',
      },
    })
    .input(z.object({ connection_id: ZConnectionId, path: ZRemotePath.min(1) }))
    .output(ZSuccess)
    .mutation(({ ctx, input }) => deletePath(deps(ctx, input.connection_id), input.path)),
});
