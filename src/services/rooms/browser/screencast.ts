import type { CDPSession } from 'playwright-core';
import type { RuntimeLog } from './runtime';

// The live screen of a room: CDP screencast frames, only while someone watches, at most maxFps.

export type FrameListener = (jpeg: Buffer) => void;

export type ScreencastOptions = {
  cdp: CDPSession;
  width: number;
  height: number;
  quality: number;
  maxFps: number;
  log: RuntimeLog;
  roomId: number;
};

export function createScreencast(opts: ScreencastOptions) {
  const { cdp, log, roomId } = opts;
  const interval = 1000 / Math.max(1, opts.maxFps);
  const listeners = new Set<FrameListener>();
  let running = false;
  let stopped = false;
  let sync: Promise<void> = Promise.resolve();
  let lastDelivered = 0;
  /** The newest frame that came too early (base64, decoded only if it is ever sent). */
  let held: string | undefined;
  let timer: NodeJS.Timeout | undefined;

  function deliver(data: string) {
    lastDelivered = Date.now();
    const jpeg = Buffer.from(data, 'base64');
    for (const listener of [...listeners]) {
      try {
        listener(jpeg);
      } catch (err) {
        log.warn({ err, room_id: roomId }, 'screen frame listener failed');
      }
    }
  }

  cdp.on('Page.screencastFrame', (frame) => {
    // Ack at once: Chromium sends nothing more until it is acked, and pacing is done below.
    cdp.send('Page.screencastFrameAck', { sessionId: frame.sessionId }).catch(() => {});
    if (listeners.size === 0 || stopped) return;
    const wait = lastDelivered + interval - Date.now();
    if (wait <= 0) {
      held = undefined;
      deliver(frame.data);
      return;
    }
    // Too soon: keep only the newest frame and send it when the interval is up, so the last
    // picture of a burst is never lost (Chromium sends no new frame while the page stays still).
    held = frame.data;
    timer ??= setTimeout(() => {
      timer = undefined;
      const data = held;
      held = undefined;
      if (data && listeners.size > 0 && !stopped) deliver(data);
    }, wait);
  });

  /** Starts or stops the CDP screencast to match whether anyone listens; calls are serialized. */
  function reconcile() {
    sync = sync
      .then(async () => {
        const want = listeners.size > 0 && !stopped;
        if (want === running) return;
        if (want) {
          // everyNthFrame stays 1: Chromium counts only frames with changes, so skipping some
          // would slow down pages that change rarely; the rate is capped above instead.
          await cdp.send('Page.startScreencast', {
            format: 'jpeg',
            quality: opts.quality,
            maxWidth: opts.width,
            maxHeight: opts.height,
            everyNthFrame: 1,
          });
          running = true;
        } else {
          running = false;
          await cdp.send('Page.stopScreencast');
        }
      })
      .catch((err: unknown) => {
        if (!stopped) log.warn({ err, room_id: roomId }, 'screencast could not be switched');
      });
  }

  return {
    subscribe(listener: FrameListener): () => void {
      if (stopped) return () => {};
      const wrapped: FrameListener = (jpeg) => listener(jpeg);
      listeners.add(wrapped);
      if (listeners.size === 1) reconcile();
      return () => {
        if (!listeners.delete(wrapped)) return;
        if (listeners.size === 0) {
          held = undefined;
          reconcile();
        }
      };
    },
    /** The session is closing: no more frames, no more CDP calls. */
    stop() {
      stopped = true;
      listeners.clear();
      held = undefined;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
