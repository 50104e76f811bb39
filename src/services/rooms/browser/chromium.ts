import { z } from 'zod';
import { AppError, describeZodIssue } from '../../../core/errors';
import { type Engine, launchEngine } from './engine';
import {
  type BrowserRuntime,
  type BrowserStartOptions,
  type ChromiumRuntimeOptions,
  ZBrowserUrl,
} from './runtime';
import { type ChromiumSession, openChromiumSession } from './session';

// BrowserRuntime on headless Chromium through playwright-core: one Chromium process per runtime,
// launched at the first start() and closed when the last room stops, one isolated context per room.

export type ChromiumRuntime = BrowserRuntime & {
  /** The running Chromium's pid, for diagnostics and tests; undefined while none runs. */
  browserPid(): number | undefined;
};

const viewportSide = z.number().int().min(100).max(4096);
const ZStartOptions = z.object({ url: ZBrowserUrl, width: viewportSide, height: viewportSide });

const disabled = () => new AppError('SERVICE_UNAVAILABLE', 'Shared browsers are disabled on this server');
const full = () => new AppError('SERVICE_UNAVAILABLE', 'Browser capacity reached, try again later');

export function createChromiumRuntime(opts: ChromiumRuntimeOptions): ChromiumRuntime {
  const { log } = opts;
  const capacity = Math.max(0, Math.floor(opts.capacity));
  const jpegQuality = Math.min(100, Math.max(1, Math.round(opts.jpegQuality)));
  const maxFps = Math.min(60, Math.max(1, opts.maxFps));
  const sessions = new Map<number, ChromiumSession>();
  const starting = new Map<number, Promise<ChromiumSession>>();
  /** Rooms stopped while starting: their session is closed as soon as it exists. */
  const cancelled = new Set<number>();
  let engine: Promise<Engine> | undefined;
  let running: Engine | undefined;
  let engineClosing: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  async function acquireEngine(): Promise<Engine> {
    // A browser still shutting down is waited for, never reused: it is already closing its contexts.
    while (engineClosing) await engineClosing;
    if (!engine) {
      const launching = launchEngine(opts).then((e) => {
        running = e;
        e.onLost(() => lost(e));
        return e;
      });
      engine = launching;
      launching.catch(() => {
        if (engine === launching) engine = undefined;
      });
    }
    return engine;
  }

  function lost(e: Engine) {
    if (running !== e) return;
    running = undefined;
    engine = undefined;
    for (const session of [...sessions.values()]) session.end('browser process went away');
  }

  /** Closes the browser once no room uses it; resolves when it is gone. */
  function releaseIfIdle(): Promise<void> {
    if (sessions.size > 0 || starting.size > 0 || !engine) return engineClosing ?? Promise.resolve();
    const e = engine;
    engine = undefined;
    running = undefined;
    const closing = e
      .then((x) => x.close())
      .catch(() => {})
      .finally(() => {
        if (engineClosing === closing) engineClosing = undefined;
      });
    engineClosing = closing;
    return closing;
  }

  async function open(roomId: number, options: BrowserStartOptions): Promise<ChromiumSession> {
    let session: ChromiumSession | undefined;
    try {
      const e = await acquireEngine().catch((err: unknown) => {
        log.error({ err, room_id: roomId }, 'shared browser could not be launched');
        throw new AppError('SERVICE_UNAVAILABLE', 'The shared browser could not be started', {}, err);
      });
      session = await openChromiumSession({
        browser: e.browser,
        gate: e.gate,
        roomId,
        options,
        jpegQuality,
        maxFps,
        log,
        onGone: () => {
          if (session && sessions.get(roomId) === session) {
            sessions.delete(roomId);
            void releaseIfIdle();
          }
        },
      });
      if (cancelled.has(roomId) || closed) {
        await session.close();
        throw new AppError('CONFLICT', 'The browser was stopped while it was starting');
      }
      if (!session.isOpen())
        throw new AppError('SERVICE_UNAVAILABLE', 'The shared browser stopped while starting');
      sessions.set(roomId, session);
      return session;
    } catch (err) {
      if (err instanceof AppError) throw err;
      log.error({ err, room_id: roomId }, 'room browser could not be opened');
      throw new AppError('SERVICE_UNAVAILABLE', 'The shared browser could not be started', {}, err);
    } finally {
      starting.delete(roomId);
      cancelled.delete(roomId);
      if (!sessions.has(roomId)) void releaseIfIdle();
    }
  }

  return {
    capacity,
    activeCount: () => sessions.size,
    has: (roomId) => sessions.has(roomId),
    get: (roomId) => sessions.get(roomId),
    browserPid: () => running?.pid,

    async start(roomId, startOptions) {
      if (closed) throw new AppError('SERVICE_UNAVAILABLE', 'Shared browsers are shutting down');
      if (capacity === 0) throw disabled();
      const existing = sessions.get(roomId) ?? starting.get(roomId);
      if (existing) return existing;
      const parsed = ZStartOptions.safeParse(startOptions);
      if (!parsed.success) throw new AppError('BAD_REQUEST', describeZodIssue(parsed.error.issues[0]!));
      if (sessions.size + starting.size >= capacity) throw full();
      const run = open(roomId, parsed.data);
      starting.set(roomId, run);
      return run;
    },

    async stop(roomId) {
      const pending = starting.get(roomId);
      if (pending) {
        cancelled.add(roomId);
        await pending.catch(() => {});
      } else {
        await sessions.get(roomId)?.close();
      }
      await releaseIfIdle();
    },

    close() {
      closed ??= (async () => {
        for (const roomId of starting.keys()) cancelled.add(roomId);
        await Promise.allSettled([...starting.values()]);
        await Promise.allSettled([...sessions.values()].map((s) => s.close()));
        await releaseIfIdle();
      })();
      return closed;
    },
  };
}
