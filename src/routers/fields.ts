import { z } from 'zod';

// Field rules shared by several routers (API.md §0 "Names and text"); messages come out as
// "username must be at least 3 characters", "username contains invalid characters", ...

export const ZUsername = z
  .string()
  .trim()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.-]+$/);

export const ZPassword = z.string().min(8).max(1024);

/** Display names of keys, bots, rooms, SSH keys. */
export const ZDisplayName = z.string().trim().min(1).max(50);

export const ZIsoDate = z.string().describe('ISO 8601 UTC');

export const ZSuccess = z.object({ success: z.literal(true) });

/** Ids are PostgreSQL integers: anything larger can only be a 404, so it is refused as invalid. */
export const MAX_ID = 2_147_483_647;

/** Path ids arrive as strings over REST. */
export const ZId = z.coerce.number().int().positive().max(MAX_ID);
