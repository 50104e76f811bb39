import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { ts } from './columns';
import { userConnections } from './remote-access';
import { users } from './users';

/**
 * The web proxy's cookie jar, one per web connection: cookies that proxied sites set are kept
 * here instead of in the user's browser (proxied pages run in an opaque origin, where browser
 * cookies do not work). `jar` is tough-cookie's serialized jar, sealed with the SecretBox because
 * it holds the sites' session cookies.
 */
export const webProxyCookieJars = pgTable('web_proxy_cookie_jars', {
  connectionId: text('connection_id')
    .primaryKey()
    .references(() => userConnections.id, { onDelete: 'cascade' }),
  userId: integer('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' }),
  jar: text('jar').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});
