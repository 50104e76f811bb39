import {
  DEFAULT_ROOM_TIMEOUT_MINUTES,
  moderateRoomMember,
  type RoomModerationKind,
} from '../../services/rooms/moderation';
import { listModerationLog } from '../../services/rooms/moderation-log';
import { authedProcedure, router } from '../trpc';
import { callerOf, roomDeps } from './deps';
import {
  ZBanInput,
  ZModerationEntry,
  ZModerationInput,
  ZModerationLog,
  ZModerationLogInput,
  ZMuteInput,
  ZTimeoutInput,
} from './moderation-schemas';

const tags = ['Moderation'];

const SUMMARIES: Record<RoomModerationKind, string> = {
  kick: 'Remove a member now (they may rejoin with an invite)',
  ban: 'Ban a user from the chat (removed now, cannot rejoin); no duration: until unbanned',
  unban: 'Lift a ban',
  mute: 'Mute a member (cannot send); no duration: until unmuted',
  unmute: 'Lift a mute',
  timeout: `Time a member out (cannot send or control) for duration_minutes (default ${DEFAULT_ROOM_TIMEOUT_MINUTES})`,
  warn: 'Warn a member (recorded and notified)',
};

/** One procedure per action of POST /chats/{id}/moderation/{action}. */
const action = <S extends typeof ZModerationInput>(kind: RoomModerationKind, input: S) =>
  authedProcedure
    .meta({
      openapi: { method: 'POST', path: `/chats/{id}/moderation/${kind}`, tags, summary: SUMMARIES[kind] },
    })
    .input(input)
    .output(ZModerationEntry)
    .mutation(({ ctx, input: { id, ...target } }) =>
      moderateRoomMember(roomDeps(ctx), callerOf(ctx), id, kind, target),
    );

/** Per-room moderation of API.md §5 (room owner, room moderators, site Admins+). */
export const roomModerationRouter = router({
  kick: action('kick', ZModerationInput),
  mute: action('mute', ZMuteInput),
  ban: action('ban', ZBanInput),
  timeout: action('timeout', ZTimeoutInput),
  warn: action('warn', ZModerationInput),
  unban: action('unban', ZModerationInput),
  unmute: action('unmute', ZModerationInput),

  log: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/chats/{id}/moderation',
        tags,
        summary: 'Moderation log (moderator+)',
      },
    })
    .input(ZModerationLogInput)
    .output(ZModerationLog)
    .query(({ ctx, input: { id, ...page } }) => listModerationLog(ctx.db, callerOf(ctx), id, page)),
});
