import type { Db } from '../../db/client';
import { writeAudit } from '../audit/audit';
import { auditActorOf } from '../auth/actor';
import { inviteCodeFor } from '../auth/invite-code';
import { inviteRotationOf } from '../settings/settings';
import type { AdminActor } from './hierarchy';

/**
 * Today's registration invite code (UTC date). Reading it hands out a credential, so the read is
 * audited like an action.
 */
export async function todaysInviteCode(opts: { db: Db; actor: AdminActor; secretKey: Buffer; now?: Date }) {
  const now = opts.now ?? new Date();
  const date = now.toISOString().slice(0, 10);
  await writeAudit(opts.db, { actor: auditActorOf(opts.actor), action: 'invite.view', details: { date } });
  return { code: inviteCodeFor(opts.secretKey, now, await inviteRotationOf(opts.db)), date };
}
