import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { randomToken, type SecretBox } from '../../core/crypto';
import { AppError } from '../../core/errors';
import type { Db } from '../../db/client';
import { userConnections } from '../../db/schema';
import { recordActivity } from '../activity/activity';
import { withinUserCap } from '../users/per-user-cap';
import {
  mergeConfig,
  openConfig,
  type PlainConfig,
  publicKeyOf,
  redactConfig,
  sealConfig,
  validateEndpoint,
} from './config';
import { CONNECTION_TYPES, type ConnectionTypeName, isConnectionType } from './types';

// User connections of API.md §6: private to their owner (anyone else gets 404), secrets sealed
// at rest and redacted on every read, config merged server-side on update.

type Row = typeof userConnections.$inferSelect;
type Deps = { db: Db; box: SecretBox; userId: number };

export const DEFAULT_BROWSER = {
  name: 'Web Browser',
  type: 'http_proxy',
  host: 'duckduckgo.com',
  port: 443,
  config: { browser_mode: true, home_url: 'https://duckduckgo.com' },
} as const;

const typeOf = (row: Row): ConnectionTypeName => {
  if (!isConnectionType(row.type)) throw new AppError('INTERNAL');
  return row.type;
};

export const connectionView = (row: Row) => ({
  id: row.id,
  name: row.name,
  type: row.type,
  host: row.host,
  port: row.port,
  config: redactConfig(typeOf(row), row.config),
  is_pinned: row.isPinned,
  created_at: row.createdAt.toISOString(),
  updated_at: row.updatedAt.toISOString(),
});
export type ConnectionView = ReturnType<typeof connectionView>;

async function findOwned(db: Db, userId: number, id: string): Promise<Row> {
  const [row] = await db
    .select()
    .from(userConnections)
    .where(and(eq(userConnections.id, id), eq(userConnections.userId, userId)));
  if (!row) throw new AppError('NOT_FOUND', 'Connection not found');
  return row;
}

type Page = { limit: number; offset: number };

const listRows = (db: Db, userId: number, page: Page) =>
  db
    .select()
    .from(userConnections)
    .where(eq(userConnections.userId, userId))
    .orderBy(
      desc(userConnections.isPinned),
      asc(sql`lower(${userConnections.name})`),
      asc(userConnections.createdAt),
      asc(userConnections.id),
    )
    .limit(page.limit)
    .offset(page.offset);

/**
 * Every user has the default "Web Browser" connection. It is created on the first list; the
 * partial unique index on (user_id) where is_default makes concurrent first lists insert it once.
 */
export async function listConnections({ db, box, userId, ...page }: Deps & Page) {
  const hasDefault = async () =>
    (await db.$count(
      userConnections,
      and(eq(userConnections.userId, userId), eq(userConnections.isDefault, true)),
    )) > 0;
  if (!(await hasDefault())) {
    await db
      .insert(userConnections)
      .values({
        id: randomToken(12),
        userId,
        name: DEFAULT_BROWSER.name,
        type: DEFAULT_BROWSER.type,
        host: DEFAULT_BROWSER.host,
        port: DEFAULT_BROWSER.port,
        config: sealConfig(box, DEFAULT_BROWSER.type, { ...DEFAULT_BROWSER.config }),
        isDefault: true,
      })
      .onConflictDoNothing();
  }
  const rows = await listRows(db, userId, page);
  const total = await db.$count(userConnections, eq(userConnections.userId, userId));
  return { connections: rows.map(connectionView), total };
}

export async function createConnection(
  opts: Deps & {
    name: string;
    type: ConnectionTypeName;
    host: string;
    port?: number | undefined;
    config?: PlainConfig | undefined;
    /** MAX_CONNECTIONS_PER_USER; the default Web Browser connection does not count. */
    maxConnections: number;
  },
) {
  const endpoint = validateEndpoint(opts.type, {
    host: opts.host,
    port: opts.port,
    config: opts.config ?? {},
  });
  const mine = and(eq(userConnections.userId, opts.userId), eq(userConnections.isDefault, false));
  const [row] = await withinUserCap(opts.db, {
    userId: opts.userId,
    max: opts.maxConnections,
    what: 'connections',
    count: (tx) => tx.$count(userConnections, mine),
    insert: (tx) =>
      tx
        .insert(userConnections)
        .values({
          id: randomToken(12),
          userId: opts.userId,
          name: opts.name,
          type: opts.type,
          host: endpoint.host,
          port: endpoint.port,
          config: sealConfig(opts.box, opts.type, endpoint.config),
        })
        .returning(),
  });
  await recordActivity(opts.db, {
    userId: opts.userId,
    action: 'connection_created',
    details: `Added ${opts.type} connection "${opts.name}"`,
  });
  return connectionView(row!);
}

export async function getConnection(opts: Deps & { id: string }) {
  return connectionView(await findOwned(opts.db, opts.userId, opts.id));
}

export async function updateConnection(
  opts: Deps & {
    id: string;
    name?: string | undefined;
    host?: string | undefined;
    port?: number | undefined;
    config?: Record<string, unknown> | undefined;
  },
) {
  return opts.db.transaction(async (tx) => {
    const db = tx as unknown as Db;
    const [row] = await db
      .select()
      .from(userConnections)
      .where(and(eq(userConnections.id, opts.id), eq(userConnections.userId, opts.userId)))
      .for('update');
    if (!row) throw new AppError('NOT_FOUND', 'Connection not found');
    const type = typeOf(row);
    const current = openConfig(opts.box, type, row.config);
    const endpoint = validateEndpoint(type, {
      host: opts.host ?? row.host,
      port: opts.port ?? row.port,
      config: opts.config ? mergeConfig(current, opts.config) : current,
    });
    const [updated] = await db
      .update(userConnections)
      .set({
        name: opts.name ?? row.name,
        host: endpoint.host,
        port: endpoint.port,
        config: sealConfig(opts.box, type, endpoint.config),
        updatedAt: new Date(),
      })
      .where(eq(userConnections.id, row.id))
      .returning();
    return connectionView(updated!);
  });
}

export async function deleteConnection(opts: Deps & { id: string }) {
  const deleted = await opts.db
    .delete(userConnections)
    .where(and(eq(userConnections.id, opts.id), eq(userConnections.userId, opts.userId)))
    .returning({ id: userConnections.id, name: userConnections.name, type: userConnections.type });
  if (deleted.length === 0) throw new AppError('NOT_FOUND', 'Connection not found');
  await recordActivity(opts.db, {
    userId: opts.userId,
    action: 'connection_deleted',
    details: `Removed ${deleted[0]!.type} connection "${deleted[0]!.name}"`,
  });
}

/** Flips `is_pinned` in one statement, so two quick clicks toggle twice. */
export async function togglePin(opts: Deps & { id: string }) {
  const [row] = await opts.db
    .update(userConnections)
    .set({ isPinned: sql`not ${userConnections.isPinned}` })
    .where(and(eq(userConnections.id, opts.id), eq(userConnections.userId, opts.userId)))
    .returning({ isPinned: userConnections.isPinned });
  if (!row) throw new AppError('NOT_FOUND', 'Connection not found');
  return { is_pinned: row.isPinned };
}

/** What a viewer needs to open the connection; the relay itself reads the sealed config. */
export async function connectInfo(opts: Deps & { id: string }) {
  const row = await findOwned(opts.db, opts.userId, opts.id);
  const type = typeOf(row);
  const sshPublicKey = type === 'ssh' ? publicKeyOf(openConfig(opts.box, type, row.config)) : undefined;
  return {
    connection: connectionView(row),
    ...(sshPublicKey && { ssh_public_key: sshPublicKey }),
    websocket_url: `/ws/user-connection/${row.id}`,
    // Web connections open in the embedded browser (seed 002 "Connection Type Routing").
    ...(CONNECTION_TYPES[type].plugin === 'http_proxy' && { browser_url: `/browser?connection=${row.id}` }),
  };
}
