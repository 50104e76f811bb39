import type { SecretBox } from '../../core/crypto';
import type { Logger } from '../../core/log';
import type { RateLimiter } from '../../core/rate-limit';
import type { Db } from '../../db/client';

// Vocabulary of message search (API.md §8, seed 002 "Message Search").

export type SearchDeps = {
  db: Db;
  /** Opens sealed message text and attachments. */
  secretBox: SecretBox;
  /** The key the blind index was built with (AppDeps.secretKey, the same one chat stores with). */
  secretKey: Buffer;
  rateLimiter: RateLimiter;
  log: Logger;
};

export type SearchCaller = { userId: number; level: number };

export const SEARCH_SCOPES = ['all', 'channels', 'dms'] as const;
export type SearchScope = (typeof SEARCH_SCOPES)[number];

export type SearchQuery = {
  q: string;
  scope: SearchScope;
  channelId?: number;
  conversationId?: number;
  /** Sender username, case-insensitive. */
  from?: string;
  hasImage: boolean;
  before?: Date;
  after?: Date;
  limit: number;
  offset: number;
};

export const SEARCH_LIMITS = {
  Q_MIN: 2,
  Q_MAX: 200,
  PAGE_DEFAULT: 25,
  PAGE_MAX: 50,
  /**
   * Newest token matches read per source. Ranking needs the plaintext, so every candidate is
   * decrypted; this bounds one search to a few milliseconds of AES whatever the word's frequency.
   * `total` and paging therefore cover at most this many matches per source.
   */
  WINDOW: 1000,
} as const;

/** API.md §0 feature limit: 10 searches per minute per user. */
export const SEARCH_RATE = { name: 'search', limit: 10, windowMs: 60_000 } as const;

/** A token match read from the database, still sealed. */
export type Candidate = {
  source: 'channel' | 'dm';
  id: number;
  /** Channel or conversation. */
  containerId: number;
  containerName: string;
  userId: number | null;
  username: string | null;
  anonymous: boolean;
  /** The caller is the author or a moderator+ there, so an anonymous author is shown. */
  seesAuthor: boolean;
  sealedText: string;
  sealedAttachments: string | null;
  createdAt: Date;
};

export type ChannelHit = {
  id: number;
  source: 'channel';
  channel_id: number;
  channel_name: string;
  user_id: number | null;
  username: string;
  message: string;
  created_at: string;
};

export type DmHit = Omit<ChannelHit, 'source' | 'channel_id' | 'channel_name'> & {
  source: 'dm';
  conversation_id: number;
  conversation_name: string;
};

export type SearchHit = ChannelHit | DmHit;

export type SearchPage = { results: SearchHit[]; total: number; limit: number; offset: number };
