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

/**
 * Missing and wrongly typed values get their own sentences ("limit is required", "limit must be a
 * number"): the schema's own error map still sees the input, which finished zod 4 issues drop.
 */
export const typed = (expected: string) => ({
  error: (issue: z.core.$ZodRawIssue) =>
    issue.code === 'invalid_type'
      ? issue.input === undefined
        ? 'is required'
        : `must be ${expected}`
      : undefined,
});

/** An integer from a query string or a JSON body. */
export const ZInteger = () => z.coerce.number(typed('a number')).int({ error: 'must be an integer' });

/** `limit` + `offset` of a list (API.md §0 "Pagination"); `max` is also the default unless given. */
export const pageFields = (max: number, fallback = max) => ({
  limit: ZInteger().min(1).max(max).default(fallback),
  offset: ZInteger().min(0).max(1_000_000).default(0),
});

/** What a paged list answers besides its items. */
export const pageOutputFields = {
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
};

const ACCESS_SCOPE = /^access:(\*|[a-z0-9_-]+)$/;

/** A comma-separated list of `access:<name>` scopes (`access:*` for all), normalised; empty allowed. */
export const accessScopeList = (message: string) =>
  z
    .string()
    .max(1000)
    .transform((s) =>
      s
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)
        .join(','),
    )
    .refine((s) => s === '' || s.split(',').every((part) => ACCESS_SCOPE.test(part)), { message });

/** `limit` + `offset` of a per-user list whose length is capped at `max` (the default returns all). */
export const ZListPage = (max: number) =>
  z.object({
    limit: ZInteger().min(1).max(max).default(max),
    offset: ZInteger().min(0).max(1_000_000).default(0),
  });
