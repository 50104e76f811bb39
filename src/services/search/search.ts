import { AppError } from '../../core/errors';
import { allWordsOf, queryTokensOf, wordsOf } from './blind-index';
import { findChannelCandidates } from './channel-candidates';
import { findDmCandidates } from './dm-candidates';
import {
  type Candidate,
  SEARCH_RATE,
  type SearchCaller,
  type SearchDeps,
  type SearchHit,
  type SearchPage,
  type SearchQuery,
} from './types';

// GET /api/search (API.md §8). Messages are sealed at rest, so the database can only narrow by
// the blind index: every query word's token must be on the row. The candidates are then opened,
// checked against their real words (the index is capped at 256 words and hashes could collide),
// ranked by how often the query words occur, newest first on ties, and paged.

const ANONYMOUS = 'Anonymous';
/** Shown for the author of a message whose account was deleted (user_id set null). */
const DELETED_USER = 'Deleted user';

async function countSearch(deps: SearchDeps, userId: number) {
  let result: Awaited<ReturnType<SearchDeps['rateLimiter']['checkSliding']>>;
  try {
    // Sliding: at most 10 in any minute, not 20 across a minute boundary.
    result = await deps.rateLimiter.checkSliding(
      SEARCH_RATE.name,
      `user:${userId}`,
      SEARCH_RATE.limit,
      SEARCH_RATE.windowMs,
    );
  } catch (err) {
    // As for the tiers: an unreachable counter store (Redis) serves rather than fails every search.
    deps.log.warn({ err }, 'search rate limiter unavailable');
    return;
  }
  if (!result.allowed)
    throw new AppError('TOO_MANY_REQUESTS', undefined, { retry_after: result.retryAfterSeconds });
}

/** Whether sealed attachments carry an image (`{image_url}`, or a list of such). */
function hasImage(attachments: string | null): boolean {
  if (!attachments) return false;
  const value: unknown = JSON.parse(attachments);
  const items = Array.isArray(value) ? value : [value];
  return items.some(
    (item) => typeof item === 'object' && item !== null && typeof item.image_url === 'string',
  );
}

type Scored = { candidate: Candidate; text: string; score: number };

function open(deps: SearchDeps, candidate: Candidate, words: Set<string>, query: SearchQuery): Scored | null {
  let text: string;
  try {
    text = deps.secretBox.decrypt(candidate.sealedText);
    if (
      query.hasImage &&
      !hasImage(candidate.sealedAttachments && deps.secretBox.decrypt(candidate.sealedAttachments))
    )
      return null;
  } catch (err) {
    // A row sealed under a key no longer configured cannot be shown; the rest of the page can.
    deps.log.warn(
      { err, source: candidate.source, message_id: candidate.id },
      'search skipped unreadable message',
    );
    return null;
  }
  const present = new Set<string>();
  let score = 0;
  for (const word of allWordsOf(text)) {
    if (!words.has(word)) continue;
    present.add(word);
    score++;
  }
  return present.size === words.size ? { candidate, text, score } : null;
}

function hitOf({ candidate: c, text }: Scored): SearchHit {
  const masked = c.anonymous && !c.seesAuthor;
  const author = {
    user_id: masked ? null : c.userId,
    username: masked ? ANONYMOUS : (c.username ?? DELETED_USER),
    message: text,
    created_at: c.createdAt.toISOString(),
  };
  return c.source === 'channel'
    ? { id: c.id, source: 'channel', channel_id: c.containerId, channel_name: c.containerName, ...author }
    : {
        id: c.id,
        source: 'dm',
        conversation_id: c.containerId,
        conversation_name: c.containerName,
        ...author,
      };
}

export async function searchMessages(
  deps: SearchDeps,
  caller: SearchCaller,
  query: SearchQuery,
): Promise<SearchPage> {
  await countSearch(deps, caller.userId);
  const page = { limit: query.limit, offset: query.offset };
  const words = new Set(wordsOf(query.q));
  // A query of only one-letter (or over-long) words matches nothing that is indexed.
  if (words.size === 0) return { results: [], total: 0, ...page };
  const tokens = queryTokensOf(deps.secretKey, query.q);

  // A channel filter excludes DMs and a conversation filter excludes channels.
  const wantChannels = query.scope !== 'dms' && query.conversationId === undefined;
  const wantDms = query.scope !== 'channels' && query.channelId === undefined;
  const [channelRows, dmRows] = await Promise.all([
    wantChannels ? findChannelCandidates(deps, caller, query, tokens) : [],
    wantDms ? findDmCandidates(deps, caller, query, tokens) : [],
  ]);

  const scored: Scored[] = [];
  for (const candidate of [...channelRows, ...dmRows]) {
    const hit = open(deps, candidate, words, query);
    if (hit) scored.push(hit);
  }
  scored.sort(
    (a, b) =>
      b.score - a.score ||
      b.candidate.createdAt.getTime() - a.candidate.createdAt.getTime() ||
      b.candidate.id - a.candidate.id,
  );
  return {
    results: scored.slice(query.offset, query.offset + query.limit).map(hitOf),
    total: scored.length,
    ...page,
  };
}

/** ISO 8601 date or date-time; a time without zone is UTC (API.md §0 "Time"). */
export function parseIsoDate(text: string): Date {
  const zoned = /[T ]\d{2}:\d{2}/.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? `${text}Z` : text;
  return new Date(zoned.replace(' ', 'T'));
}
