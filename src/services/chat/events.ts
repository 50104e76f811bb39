import type { Bus } from '../../core/bus/types';

// Channel events for /ws/chat go through the Bus so an action on one node reaches sockets on every
// node. Each node's chat hub subscribes once and hands frames to the sockets it holds. Frames that
// differ per viewer (anonymous messages) carry a second, unmasked frame for the viewers allowed it.

export const CHAT_EVENTS_TOPIC = 'chat.events';

/** A server → client frame: `{type, ...}`. */
export type ChatFrame = { type: string } & Record<string, unknown>;

export type ChatBusMessage = {
  /** Sockets joined to this channel; null: every /ws/chat socket. */
  channel_id: number | null;
  frame: ChatFrame;
  /** The unmasked frame for `real_user_ids`, channel moderators and Admin+ sockets. */
  real?: { frame: ChatFrame; user_ids: number[] };
  /** Users who must not get this frame (they blocked its author). */
  hidden_from?: number[];
  /** The user whose action it is: their own sockets skip it (typing). */
  except_user_id?: number;
  /** The channel is gone: sockets leave it after this frame. */
  closes_channel?: boolean;
  /**
   * Readers who lost access (removed from a private channel, or it became private): only their
   * sockets get `frame` and leave the channel. `non_members`: everyone not a member or Admin+.
   */
  evict?: number[] | 'non_members';
  /** The channel was renamed: sockets joined to it go by its new name from now on. */
  renamed?: { id: number; name: string };
};

type PushDeps = { bus: Bus; log: { warn(obj: object, msg?: string): void } };

/** Publishes a frame to a channel's sockets on every node; a Bus outage costs the live push only. */
export async function publishChatEvent(deps: PushDeps, message: ChatBusMessage): Promise<void> {
  try {
    await deps.bus.publish(CHAT_EVENTS_TOPIC, message);
  } catch (err) {
    deps.log.warn({ err, what: message.frame.type }, 'chat event not pushed');
  }
}

/** The simple case for other modules (polls, …): one frame for everyone in the channel. */
export const publishChannelEvent = (deps: PushDeps, channelId: number, frame: ChatFrame) =>
  publishChatEvent(deps, { channel_id: channelId, frame });
