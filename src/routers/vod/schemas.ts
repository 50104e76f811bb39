import { z } from 'zod';
import { VOD_SORTS, ZVodFile, ZVodStorageInput, ZVodStorageView } from '../../services/vod/schemas';
import { ZInteger } from '../fields';
import { ZSftpContent } from '../sftp/router';

export { ZVodStorageInput };

export const ZVodStorageResult = z.object({ storage: ZVodStorageView.nullable() });
export const ZVodStorageSaved = z.object({ storage: ZVodStorageView });

export const ZVodTestResult = z.object({
  success: z.boolean(),
  message: z.string(),
  mkv_count: z
    .number()
    .int()
    .nullable()
    .describe('MKV files found below remote_path (null when the test failed)'),
});

export const ZVodListInput = z.object({
  sort: z.enum(VOD_SORTS).default('modified').describe('Sort by: name, size, modified (default: modified)'),
  order: z.enum(['asc', 'desc']).default('desc').describe('asc or desc (default: desc)'),
  limit: ZInteger().min(1).max(10_000).default(1000),
  offset: ZInteger().min(0).max(1_000_000).default(0),
});

export const ZVodFileList = z.object({
  files: z.array(ZVodFile),
  path: z.string().describe('The VOD directory on the remote server'),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  truncated: z.boolean().describe('The walk stopped at its depth or entry bound; more files may exist'),
});

/** A path below the VOD directory; `..` segments are refused. */
export const ZVodPath = z
  .string()
  .max(4096)
  .describe('Path below the VOD directory (/ is the VOD directory)');

export const ZVodWriteInput = z.object({
  path: ZVodPath.min(1),
  content: ZSftpContent,
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
});
