import { asc, count, desc, eq, type SQL, sql } from 'drizzle-orm';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { bots, users } from '../../db/schema';
import type { Actor } from '../auth/actor';
import { escapeLike } from '../users/profiles';
import type { BotRow } from './bots';
import { type BotOwner, fullBotView, publicBotView, seesBotDetails } from './views';

// The public bot directory of API.md §2: GET /bots, GET /bots/search, GET /bots/{id}.

export type Page = { limit: number; offset: number };

/** Each bot with its owner's id and username (null when it has none or the owner was deleted). */
const withOwner = (db: Db) =>
  db
    .select({ bot: bots, ownerId: users.id, ownerName: users.username })
    .from(bots)
    .leftJoin(users, eq(users.id, bots.ownerUserId));

type Joined = { bot: BotRow; ownerId: number | null; ownerName: string | null };

export const ownerOf = (row: Joined): BotOwner =>
  row.ownerId === null || row.ownerName === null ? null : { id: row.ownerId, username: row.ownerName };

export function viewFor(viewer: Actor | null) {
  const full = seesBotDetails(viewer);
  return (row: Joined) => (full ? fullBotView(row.bot, ownerOf(row)) : publicBotView(row.bot));
}

async function page(db: Db, opts: { viewer: Actor | null; where?: SQL; order: SQL[] } & Page) {
  const [rows, [total]] = await Promise.all([
    withOwner(db)
      .where(opts.where)
      .orderBy(...opts.order)
      .limit(opts.limit)
      .offset(opts.offset),
    db.select({ n: count() }).from(bots).where(opts.where),
  ]);
  return {
    bots: rows.map(viewFor(opts.viewer)),
    total: total?.n ?? 0,
    limit: opts.limit,
    offset: opts.offset,
  };
}

/** GET /bots: every bot, oldest first (a stable order for paging). */
export const listBots = (db: Db, opts: { viewer: Actor | null } & Page) =>
  page(db, { ...opts, order: [asc(bots.id)] });

/**
 * GET /bots/search: case-insensitive substring of the name; `%` and `_` match literally. Exact
 * names first, then alphabetical.
 */
export function searchBots(db: Db, opts: { viewer: Actor | null; q: string } & Page) {
  const where = sql`${bots.name} ILIKE ${`%${escapeLike(opts.q)}%`} ESCAPE '\\'`;
  const order = [
    desc(sql`lower(${bots.name}) = lower(${opts.q})`),
    asc(sql`lower(${bots.name})`),
    asc(bots.id),
  ];
  return page(db, { ...opts, where, order });
}

/** One bot joined with its owner, or 404 "Bot not found". */
export async function requireBotWithOwner(db: Db, id: number): Promise<Joined> {
  const [row] = await withOwner(db).where(eq(bots.id, id)).limit(1);
  if (!row) throw new AppError('NOT_FOUND', 'Bot not found');
  return row;
}

/** GET /bots/{id} */
export async function getBot(db: Db, opts: { viewer: Actor | null; id: number }) {
  return viewFor(opts.viewer)(await requireBotWithOwner(db, opts.id));
}
