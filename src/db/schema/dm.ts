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

// Direct messages of seed 002 (API.md §8): 1:1 conversations (one per pair, `direct_key`) and
// groups of up to 10. Message text and attachments are sealed with the SecretBox like channel
// messages, and searchable through the same blind index.

export const dmConversations = pgTable(
  'dm_conversations',
  {
    id: serial('id').primaryKey(),
    /** `direct` (1:1) or `group`. */
    type: text('type').notNull(),
    /** Group name (null for 1:1). */
    name: text('name'),
    /** `<low user id>:<high user id>` for 1:1 conversations, so creation is idempotent. */
    directKey: text('direct_key'),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    lastMessageAt: ts('last_message_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('dm_conversations_direct_idx').on(t.directKey),
    check('dm_conversations_type', sql`${t.type} in ('direct', 'group')`),
  ],
);

export const dmParticipants = pgTable(
  'dm_participants',
  {
    conversationId: integer('conversation_id')
      .notNull()
      .references(() => dmConversations.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    muted: boolean('muted').notNull().default(false),
    /** Read marker for unread counts (`dm_mark_read`). */
    lastReadId: integer('last_read_id').notNull().default(0),
    joinedAt: ts('joined_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    index('dm_participants_user_idx').on(t.userId),
  ],
);

export const dmMessages = pgTable(
  'dm_messages',
  {
    id: serial('id').primaryKey(),
    conversationId: integer('conversation_id')
      .notNull()
      .references(() => dmConversations.id, { onDelete: 'cascade' }),
    ...sealedMessageColumns(),
  },
  (t) => [
    index('dm_messages_conversation_idx').on(t.conversationId, t.id),
    index('dm_messages_created_idx').on(t.createdAt),
    index('dm_messages_search_idx').using('gin', t.searchTokens),
    index('dm_messages_upload_idx').on(t.uploadKey).where(sql`${t.uploadKey} is not null`),
  ],
);

export const dmReactions = reactionsTable('dm_reactions', dmMessages);
