import { z } from 'zod';
import type { Db } from '../../db/client';
import type { PushDeps } from '../notifications/notify';

// Vocabulary of 1-on-1 matchmaking (API.md §5 "Matchmaking"), shared by the services, the router
// schemas and the /ws/portal `match_found` frame.

export const MATCH_LIMITS = { MAX_INTERESTS: 10, INTEREST_MAX: 32, LANGUAGE_MAX: 35 } as const;

/** Interests compare case-insensitively: they are stored trimmed, lower-cased and without repeats. */
const ZInterest = z
  .string({ error: 'Each interest must be a string' })
  .trim()
  .min(1, { error: 'Each interest must be at least 1 character' })
  .max(MATCH_LIMITS.INTEREST_MAX, {
    error: `Each interest must be at most ${MATCH_LIMITS.INTEREST_MAX} characters`,
  })
  .transform((s) => s.toLowerCase());

export const ZInterests = z
  .array(ZInterest)
  .max(MATCH_LIMITS.MAX_INTERESTS)
  .transform((list) => [...new Set(list)])
  .describe(`Up to ${MATCH_LIMITS.MAX_INTERESTS} topics; a partner shares at least one (until the fallback)`);

/** A BCP 47-looking tag (`en`, `pt-BR`); compared case-insensitively. */
export const ZLanguage = z
  .string()
  .trim()
  .max(MATCH_LIMITS.LANGUAGE_MAX)
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, {
    error: 'language must be a language tag such as en or pt-BR',
  })
  .transform((s) => s.toLowerCase())
  .describe('A language tag; a partner names the same one (until the fallback)');

export type MatchPreferences = { interests: string[]; language: string | null };

/**
 * What the services need: where rows and pushes go, and the two knobs of API.md §5
 * (`MATCH_FALLBACK_SECONDS`, `MATCH_COOLDOWN_MINUTES`).
 */
export type MatchDeps = PushDeps & { db: Db; fallbackSeconds: number; cooldownMinutes: number };

export const matchDepsOf = (deps: {
  database: { db: Db };
  bus: PushDeps['bus'];
  log: PushDeps['log'];
  env: { MATCH_FALLBACK_SECONDS: number; MATCH_COOLDOWN_MINUTES: number };
}): MatchDeps => ({
  db: deps.database.db,
  bus: deps.bus,
  log: deps.log,
  fallbackSeconds: deps.env.MATCH_FALLBACK_SECONDS,
  cooldownMinutes: deps.env.MATCH_COOLDOWN_MINUTES,
});

export type MatchPartner = { id: number; username: string };

/** The `match_found` frame of /ws/portal (API.md §9), one per user with the other as partner. */
export const matchFoundEvent = (roomId: number, partner: MatchPartner) => ({
  type: 'match_found',
  room_id: roomId,
  partner,
});

export type MatchStatus =
  | { status: 'idle' }
  | {
      status: 'queued';
      queued_at: string;
      waiting_seconds: number;
      interests: string[];
      language: string | null;
    }
  | { status: 'matched'; room_id: number; partner: MatchPartner };
