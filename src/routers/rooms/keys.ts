import { listRoomKeys, registerRoomKey } from '../../services/rooms/keys';
import { authedProcedure, router } from '../trpc';
import { roomDeps } from './deps';
import { ZRegisterKeyInput, ZRoomKey, ZRoomKeyList } from './message-schemas';
import { ZRoomPage } from './schemas';

const tags = ['Chat'];

/** End-to-end keys of room chat (API.md §5): one public key per member and room. */
export const roomKeysRouter = router({
  register: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/chats/{id}/keys',
        tags,
        summary: 'Register (or replace) your public key',
      },
    })
    .input(ZRegisterKeyInput)
    .output(ZRoomKey)
    .mutation(({ ctx, input }) =>
      registerRoomKey(roomDeps(ctx), ctx.actor.userId, input.id, input.public_key),
    ),

  list: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/chats/{id}/keys', tags, summary: "Current members' public keys" },
    })
    .input(ZRoomPage)
    .output(ZRoomKeyList)
    .query(({ ctx, input: { id, ...page } }) => listRoomKeys(ctx.db, ctx.actor.userId, id, page)),
});
