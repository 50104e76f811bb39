import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  pgTable,
  primaryKey,
  serial,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { reactionsTable, sealedMessageColumns } from './message-columns';
import { users } from './users';

// Channel chat of seed 002 (API.md §8, /ws/chat). Message text and attachments are sealed with the
// SecretBox: the database never holds plaintext, and search goes through `search_tokens`, a blind
// index of keyed word hashes (services/search/blind-index.ts).

export const channels = pgTable(
  'channels',
  {
    id: serial('id').primaryKey(),
    /** Lower-case letters, digits and hyphens, 1–50 (checked by the services and here). */
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    /** `public` (everyone) or `private` (members only). */
    visibility: text('visibility').notNull().default('public'),
    /** `open` (everyone may send) or `readonly` (channel moderators and Admin+ only). */
    mode: text('mode').notNull().default('open'),
    isDefault: boolean('is_default').notNull().default(false),
    isStreamChannel: boolean('is_stream_channel').notNull().default(false),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('channels_name_idx').on(t.name),
    index('channels_created_by_idx').on(t.createdBy),
    check('channels_name_format', sql`${t.name} ~ '^[a-z0-9-]{1,50}$'`),
    check('channels_visibility', sql`${t.visibility} in ('public', 'private')`),
    check('channels_mode', sql`${t.mode} in ('open', 'readonly')`),
  ],
);

export const channelMembers = pgTable(
  'channel_members',
  {
    channelId: integer('channel_id')
      .notNull()
      .references(() => channels.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** `member` or `moderator`. */
    role: text('role').notNull().default('member'),
    addedAt: ts('added_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.channelId, t.userId] }),
    index('channel_members_user_idx').on(t.userId),
    check('channel_members_role', sql`${t.role} in ('member', 'moderator')`),
  ],
);

export const chatMessages = pgTable(
  'chat_messages',
  {
    id: serial('id').primaryKey(),
    channelId: integer('channel_id')
      .notNull()
      .references(() => channels.id, { onDelete: 'cascade' }),
    ...sealedMessageColumns(),
    /** Stored per message: a message sent anonymously stays anonymous (seed 002). */
    anonymous: boolean('anonymous').notNull().default(false),
    pinnedAt: ts('pinned_at'),
    pinnedBy: integer('pinned_by').references(() => users.id, { onDelete: 'set null' }),
    /** Posted by this incoming webhook (plain integer: deleting the webhook keeps its messages). */
    webhookId: integer('webhook_id'),
    /** The display name of a webhook message (the webhook's name or its `username`). */
    authorName: text('author_name'),
  },
  (t) => [
    index('chat_messages_channel_idx').on(t.channelId, t.id),
    index('chat_messages_created_idx').on(t.createdAt),
    index('chat_messages_search_idx').using('gin', t.searchTokens),
    index('chat_messages_upload_idx').on(t.uploadKey).where(sql`${t.uploadKey} is not null`),
  ],
);

export const chatReactions = reactionsTable('chat_reactions', chatMessages);

/** Per-channel read markers for unread counts. */
export const chatReads = pgTable(
  'chat_reads',
  {
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    channelId: integer('channel_id')
      .notNull()
      .references(() => channels.id, { onDelete: 'cascade' }),
    lastReadId: integer('last_read_id').notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.channelId] })],
);

/**
 * Polls of seed 002, each posted as a channel message (deleted with it, so retention takes the
 * poll and its votes along). Question and options are sealed JSON like message text.
 */
export const chatPolls = pgTable(
  'chat_polls',
  {
    id: serial('id').primaryKey(),
    messageId: integer('message_id')
      .notNull()
      .references(() => chatMessages.id, { onDelete: 'cascade' }),
    channelId: integer('channel_id')
      .notNull()
      .references(() => channels.id, { onDelete: 'cascade' }),
    creatorId: integer('creator_id').references(() => users.id, { onDelete: 'set null' }),
    /** Sealed JSON `{question, options}`. */
    content: text('content').notNull(),
    optionCount: integer('option_count').notNull(),
    allowMultiple: boolean('allow_multiple').notNull().default(false),
    anonymousVotes: boolean('anonymous_votes').notNull().default(false),
    /** When it closes by itself (null: when closed by hand). */
    closesAt: ts('closes_at'),
    closedAt: ts('closed_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('chat_polls_message_idx').on(t.messageId),
    // The closer finds polls due to close (also after a restart).
    index('chat_polls_due_idx').on(t.closesAt).where(sql`${t.closedAt} is null`),
    check('chat_polls_options', sql`${t.optionCount} between 2 and 10`),
  ],
);

export const chatPollVotes = pgTable(
  'chat_poll_votes',
  {
    pollId: integer('poll_id')
      .notNull()
      .references(() => chatPolls.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    optionIndex: integer('option_index').notNull(),
    /** Cast in anonymous mode: counted, never attributed (like a message sent anonymously). */
    anonymous: boolean('anonymous').notNull().default(false),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.pollId, t.userId, t.optionIndex] })],
);
