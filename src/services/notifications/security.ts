import { type NotifyDeps, prepareNotification } from './notify';

// `security` notifications (API.md §4): new sign-in, password change, 2FA on/off, API key created,
// revoked or deleted.
// They ride along with the action that caused them and must never make it fail.

type Notice = { title: string; message: string; data: Record<string, unknown> };

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export const securityNotice = {
  signIn: (opts: { method: 'password' | 'otp'; ip: string; userAgent?: string | undefined }): Notice => ({
    title: 'New sign-in',
    message: clip(
      `New sign-in to your account (${opts.method === 'otp' ? 'login code' : 'password'}) from ${opts.ip}` +
        (opts.userAgent ? ` using ${clip(opts.userAgent, 500)}` : '') +
        '. If this was not you, change your password and end your other sessions.',
      4000,
    ),
    data: {
      event: 'sign_in',
      method: opts.method,
      ip: opts.ip,
      user_agent: opts.userAgent ? clip(opts.userAgent, 500) : null,
    },
  }),
  passwordChanged: (endedSessions: number): Notice => ({
    title: 'Password changed',
    message: `Your password was changed${endedSessions > 0 ? ` and ${endedSessions} other session${endedSessions === 1 ? ' was' : 's were'} signed out` : ''}.`,
    data: { event: 'password_changed', ended_sessions: endedSessions },
  }),
  twoFactor: (enabled: boolean): Notice => ({
    title: enabled ? 'Two-factor authentication enabled' : 'Two-factor authentication disabled',
    message: enabled
      ? 'Two-factor authentication is now required when you sign in.'
      : 'Two-factor authentication was turned off for your account.',
    data: { event: enabled ? '2fa_enabled' : '2fa_disabled' },
  }),
  apiKeyCreated: (key: { id: number; name: string; prefix: string }): Notice => ({
    title: 'API key created',
    message: clip(`A new API key "${key.name}" (${key.prefix}…) was created for your account.`, 4000),
    data: { event: 'api_key_created', key_id: key.id, key_prefix: key.prefix },
  }),
  apiKeyRemoved: (key: { id: number; name: string; prefix: string }, how: 'revoked' | 'deleted'): Notice => ({
    title: how === 'revoked' ? 'API key revoked' : 'API key deleted',
    message: clip(`The API key "${key.name}" (${key.prefix}…) was ${how} and no longer works.`, 4000),
    data: { event: `api_key_${how}`, key_id: key.id, key_prefix: key.prefix },
  }),
};

/**
 * Writes the notice (awaited, so it is listed as soon as the action answers) and pushes it without
 * waiting for the Bus. Any failure is logged and swallowed.
 */
export async function notifySecurity(deps: NotifyDeps, userId: number, notice: Notice): Promise<void> {
  try {
    const prepared = await prepareNotification(deps.db, { userIds: [userId], type: 'security', ...notice });
    void prepared.publish(deps);
  } catch (err) {
    deps.log.warn({ err, user_id: userId }, 'security notification failed');
  }
}

/** The notice for a key of the user's that was created, revoked or deleted. */
export function notifyApiKeyChange(
  deps: NotifyDeps,
  userId: number,
  key: { id: number; name: string; keyPrefix: string },
  how: 'created' | 'revoked' | 'deleted',
): Promise<void> {
  const view = { id: key.id, name: key.name, prefix: key.keyPrefix };
  const notice =
    how === 'created' ? securityNotice.apiKeyCreated(view) : securityNotice.apiKeyRemoved(view, how);
  return notifySecurity(deps, userId, notice);
}
