import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  boolean,
  integer,
  type PgTableWithColumns,
  pgTable,
  primaryKey,
  text,
} from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { users } from './users';

/**
 * The columns channel and DM messages share: sealed text and attachments, the reply link, the
 * edit time and the blind index. A function, so every table gets its own column builders.
 */
export const sealedMessageColumns = () => ({
  userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
  /** Sealed with the SecretBox. */
  text: text('text').notNull(),
  /** Sealed JSON (`{image_url}`), or null. */
  attachments: text('attachments'),
  /** The parent message; a plain integer so deleting a parent leaves replies in place. */
  replyTo: integer('reply_to'),
  editedAt: ts('edited_at'),
  createdAt: ts('created_at').notNull().defaultNow(),
  /** Blind index: keyed hashes of the words, never the words. */
  searchTokens: text('search_tokens').array().notNull().default(sql`'{}'::text[]`),
  /**
   * Keyed hash of the uploaded image's file name (the name itself is in the sealed attachments), so
   * the file can be deleted once no message references it any more (services/uploads).
   */
  uploadKey: text('upload_key'),
});

/** One reaction per (message, user, emoji) of a message table; toggled by the react frames. */
// biome-ignore lint/suspicious/noExplicitAny: any message table with an integer `id`
export const reactionsTable = <M extends PgTableWithColumns<any> & { id: AnyPgColumn }>(
  name: string,
  messages: M,
) =>
  pgTable(
    name,
    {
      messageId: integer('message_id')
        .notNull()
        .references(() => messages.id, { onDelete: 'cascade' }),
      userId: integer('user_id')
        .notNull()
        .references(() => users.id, { onDelete: 'cascade' }),
      emoji: text('emoji').notNull(),
      /** Reacted in anonymous mode: shown without the reactor (always false in DMs, which have none). */
      anonymous: boolean('anonymous').notNull().default(false),
      createdAt: ts('created_at').notNull().defaultNow(),
    },
    (t) => [primaryKey({ columns: [t.messageId, t.userId, t.emoji] })],
  );
