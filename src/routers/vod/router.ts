import { z } from 'zod';
import { deleteVodFile, listVodFiles, testVodStorage } from '../../services/vod/files';
import {
  deleteVodPath,
  listVodDirectory,
  makeVodDirectory,
  readVodFile,
  renameVodPath,
  writeVodFile,
} from '../../services/vod/manager';
import { deleteVodStorage, getVodStorage, putVodStorage } from '../../services/vod/storage';
import type { Context } from '../context';
import { ZSuccess } from '../fields';
import { ZSftpEntry, ZSftpReadResult } from '../sftp/router';
import { authedProcedure, router } from '../trpc';
import {
  ZVodFileList,
  ZVodListInput,
  ZVodPath,
  ZVodStorageInput,
  ZVodStorageResult,
  ZVodStorageSaved,
  ZVodTestResult,
  ZVodWriteInput,
} from './schemas';

// VOD storage, recorded files and the VOD SFTP manager (API.md §7, seed 002 "VOD Storage" and
// "SFTP VOD Storage"). Streamed bodies (file download, zip, manager download/upload) are express
// handlers in src/rest/handlers/vod-transfer.ts calling the same services.

const tags = ['VOD'];
const managerTags = ['VOD SFTP'];

const deps = (ctx: Pick<Context, 'db' | 'deps'> & { actor: { userId: number } }) => ({
  db: ctx.db,
  box: ctx.deps.secretBox,
  userId: ctx.actor.userId,
});

const sftpPath = (op: string) => `/api/vod/sftp/${op}` as const;

export const vodRouter = router({
  getStorage: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/vod/storage',
        tags,
        summary: 'Your SFTP storage for VODs (secrets redacted; null when none is configured)',
      },
    })
    .input(z.void())
    .output(ZVodStorageResult)
    .query(({ ctx }) => getVodStorage(deps(ctx))),

  putStorage: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/api/vod/storage',
        tags,
        summary: 'Configure your VOD storage (fields not sent are kept; null clears a secret)',
      },
    })
    .input(ZVodStorageInput)
    .output(ZVodStorageSaved)
    .mutation(({ ctx, input }) => putVodStorage({ ...deps(ctx), input })),

  deleteStorage: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/api/vod/storage',
        tags,
        summary: 'Remove the VOD storage configuration (remote files stay)',
      },
    })
    .input(z.void())
    .output(ZSuccess)
    .mutation(({ ctx }) => deleteVodStorage(deps(ctx))),

  testStorage: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/api/vod/storage/test',
        tags,
        summary: 'Test the SFTP connection (stored settings, or the ones sent on top) and count MKV files',
      },
    })
    .input(ZVodStorageInput)
    .output(ZVodTestResult)
    .mutation(({ ctx, input }) => testVodStorage({ ...deps(ctx), input })),

  listFiles: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/api/vod/files',
        tags,
        summary: 'Recorded MKV files, recursively (StreamName/YYYY-MM-DD_HH-MM-SS/chunk_NNN.mkv)',
      },
    })
    .input(ZVodListInput)
    .output(ZVodFileList)
    .query(({ ctx, input }) => listVodFiles({ ...deps(ctx), ...input })),

  /**
   * tRPC only: over REST, `DELETE /api/vod/files/{path}` carries slashes in its path, which the
   * OpenAPI layer cannot match, so src/rest/handlers/vod-transfer.ts serves it with this service.
   */
  deleteFile: authedProcedure
    .input(z.object({ path: ZVodPath.min(1) }))
    .output(ZSuccess)
    .mutation(({ ctx, input }) => deleteVodFile({ ...deps(ctx), path: input.path })),

  sftpList: authedProcedure
    .meta({
      openapi: { method: 'GET', path: sftpPath('list'), tags: managerTags, summary: 'List a VOD directory' },
    })
    .input(z.object({ path: ZVodPath.default('/') }))
    .output(z.object({ path: z.string(), entries: z.array(ZSftpEntry) }))
    .query(({ ctx, input }) => listVodDirectory({ ...deps(ctx), path: input.path })),

  sftpRead: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: sftpPath('read'),
        tags: managerTags,
        summary: 'Read a file (5 MB max)',
      },
    })
    .input(z.object({ path: ZVodPath.min(1) }))
    .output(ZSftpReadResult)
    .query(({ ctx, input }) => readVodFile({ ...deps(ctx), path: input.path })),

  sftpWrite: authedProcedure
    .meta({
      openapi: { method: 'POST', path: sftpPath('write'), tags: managerTags, summary: 'Write a file' },
    })
    .input(ZVodWriteInput)
    .output(ZSuccess)
    .mutation(({ ctx, input }) => writeVodFile({ ...deps(ctx), ...input })),

  sftpMkdir: authedProcedure
    .meta({
      openapi: { method: 'POST', path: sftpPath('mkdir'), tags: managerTags, summary: 'Create a directory' },
    })
    .input(z.object({ path: ZVodPath.min(1) }))
    .output(ZSuccess)
    .mutation(({ ctx, input }) => makeVodDirectory({ ...deps(ctx), path: input.path })),

  sftpRename: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: sftpPath('rename'),
        tags: managerTags,
        summary: 'Rename or move a path',
      },
    })
    .input(z.object({ old_path: ZVodPath.min(1), new_path: ZVodPath.min(1) }))
    .output(ZSuccess)
    .mutation(({ ctx, input }) => renameVodPath({ ...deps(ctx), ...input })),

  sftpDelete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: sftpPath('delete'),
        tags: managerTags,
        summary: 'Delete a file or an empty directory',
      },
    })
    .input(z.object({ path: ZVodPath.min(1) }))
    .output(ZSuccess)
    .mutation(({ ctx, input }) => deleteVodPath({ ...deps(ctx), path: input.path })),
});
