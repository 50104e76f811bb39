import { AppError } from '../../core/errors';
import type { AdminActor } from '../admin/hierarchy';
import { inTransaction } from '../admin/hierarchy';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { findUserByUsername } from '../users/accounts';
import { type NotifyDeps, notify, prepareNotification } from './notify';

// Admin-created notifications of API.md §10 (`notify`, `broadcast`), type `admin`, audit-logged.
// Any Admin may notify any user: a message is not an action on the account, so no hierarchy.

type Content = { title: string; message: string; link?: string | null | undefined };

export async function adminNotifyUser(
  opts: NotifyDeps & { actor: AdminActor; username: string } & Content,
): Promise<{ count: number }> {
  const prepared = await inTransaction(opts.db, async (tx) => {
    const user = await findUserByUsername(tx, opts.username);
    if (!user) throw new AppError('NOT_FOUND', 'User not found');
    const p = await prepareNotification(tx, {
      userIds: [user.id],
      type: 'admin',
      title: opts.title,
      message: opts.message,
      link: opts.link,
    });
    await writeAudit(tx, {
      actor: auditActorOf(opts.actor),
      action: 'notification.send',
      targetType: 'user',
      targetId: user.id,
      details: { notification_id: p.notification.id, title: p.notification.title },
    });
    return p;
  });
  await prepared.publish(opts);
  return { count: prepared.count };
}

/**
 * To every user: the rows go in batches outside one transaction (a long broadcast must not hold
 * the embedded database's only connection), then one Bus message; the audit row records the count.
 */
export async function adminBroadcast(
  opts: NotifyDeps & { actor: AdminActor } & Content,
): Promise<{ count: number }> {
  const { count, id } = await notify(opts, {
    userIds: 'all',
    type: 'admin',
    title: opts.title,
    message: opts.message,
    link: opts.link,
  });
  await writeAudit(opts.db, {
    actor: auditActorOf(opts.actor),
    action: 'notification.broadcast',
    targetType: 'notification',
    targetId: id,
    details: { title: opts.title, count },
  });
  return { count };
}
