import type { dmConversations, dmParticipants } from '../../db/schema';
import type { ChatActor, ChatDeps } from '../chat/types';

// Shared vocabulary of direct messages (API.md §8, seed 002 "Direct Messages"). DMs reuse the
// channel chat's deps, actor, text limit, edit window and 5/5 s send limit (services/chat/types.ts).

export type DmDeps = ChatDeps;
export type DmActor = ChatActor;

export type DmConversationRow = typeof dmConversations.$inferSelect;
export type DmParticipantRow = typeof dmParticipants.$inferSelect;

export const DM_TYPES = ['direct', 'group'] as const;

export const DM_LIMITS = {
  /** Seed 002: group DMs of up to 10 participants, the creator included. */
  MAX_PARTICIPANTS: 10,
  HISTORY_DEFAULT: 100,
  HISTORY_MAX: 100,
  NAME_MAX: 100,
} as const;

/** `direct_key` of a 1:1 conversation: the same for both orders of the pair. */
export const directKeyOf = (a: number, b: number) => `${Math.min(a, b)}:${Math.max(a, b)}`;
