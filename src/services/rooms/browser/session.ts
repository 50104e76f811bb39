import type { Browser, Page } from 'playwright-core';
import { AppError, describeZodIssue } from '../../../core/errors';
import { browserNotRunning, toBrowserError } from './browser-errors';
import { CLIPBOARD_INIT_SCRIPT, type ClipboardGate, COPY_BINDING, READ_BINDING } from './clipboard';
import { applyInput, isModifier, keyEffect } from './input';
import { dismissDialogs, keepOneTab } from './page-rules';
import {
  type BrowserInput,
  type BrowserSession,
  type BrowserStartOptions,
  CLIPBOARD_MAX_CHARS,
  type RuntimeLog,
  ZBrowserInput,
} from './runtime';
import { createScreencast } from './screencast';

// One room's browser: an isolated context with one page, its screen, input and clipboard.

export type SessionDeps = {
  browser: Browser;
  gate: ClipboardGate;
  roomId: number;
  options: BrowserStartOptions;
  jpegQuality: number;
  maxFps: number;
  log: RuntimeLog;
  /** The session is gone (closed, or ended on its own): the runtime forgets it. */
  onGone: () => void;
};

export type ChromiumSession = BrowserSession & {
  /** The browser died under the session. */
  end(reason: string): void;
  isOpen(): boolean;
};

/** How long start() waits for the first page to answer before handing the session over anyway. */
const START_NAVIGATION_MS = 15_000;
/** Inputs queued behind a slow page before new ones are refused. */
const MAX_QUEUED_INPUTS = 200;
/** Tries of a screenshot of a page that has not painted yet (1.5 s in all). */
const SCREENSHOT_ATTEMPTS = 6;
/** The same text reported twice this close together is one copy (copy event + writeText). */
const DUPLICATE_COPY_MS = 1_000;

const call = (listener: () => void, log: RuntimeLog, roomId: number) => {
  try {
    listener();
  } catch (err) {
    log.warn({ err, room_id: roomId }, 'browser session listener failed');
  }
};

export async function openChromiumSession(deps: SessionDeps): Promise<ChromiumSession> {
  const { browser, gate, roomId, options, log } = deps;
  let state: 'open' | 'closing' | 'closed' = 'open';
  let endedOnItsOwn = false;
  let closing: Promise<void> | undefined;
  let clipboardText = '';
  let lastCopy = { text: '', at: 0 };
  const clipboardListeners = new Set<(text: string) => void>();
  const closedListeners = new Set<() => void>();
  const heldKeys = new Set<string>();
  let inputs: Promise<unknown> = Promise.resolve();
  let queued = 0;

  function onPageCopy(text: unknown) {
    if (state !== 'open') return;
    gate.claim(roomId);
    if (typeof text !== 'string' || text.length === 0) return;
    const copied = text.slice(0, CLIPBOARD_MAX_CHARS);
    const now = Date.now();
    if (copied === lastCopy.text && now - lastCopy.at < DUPLICATE_COPY_MS) return;
    lastCopy = { text: copied, at: now };
    clipboardText = copied;
    for (const listener of [...clipboardListeners]) call(() => listener(copied), log, roomId);
  }

  const context = await browser.newContext({
    viewport: { width: options.width, height: options.height },
    acceptDownloads: false,
  });
  let page: Page;
  try {
    // No clipboard-read: the process clipboard is shared by all rooms (see clipboard.ts).
    await context.grantPermissions(['clipboard-write']);
    await context.exposeBinding(COPY_BINDING, (_source, text: unknown) => onPageCopy(text));
    await context.exposeBinding(READ_BINDING, () => (state === 'open' ? clipboardText : ''));
    await context.addInitScript({ content: CLIPBOARD_INIT_SCRIPT });
    page = await context.newPage();
  } catch (err) {
    await context.close().catch(() => {});
    throw err;
  }
  const cdp = await context.newCDPSession(page).catch(async (err: unknown) => {
    await context.close().catch(() => {});
    throw err;
  });
  const screencast = createScreencast({
    cdp,
    width: options.width,
    height: options.height,
    quality: deps.jpegQuality,
    maxFps: deps.maxFps,
    log,
    roomId,
  });

  function teardown() {
    screencast.stop();
    gate.release(roomId);
    clipboardListeners.clear();
    deps.onGone();
  }

  function end(reason: string) {
    if (state !== 'open') return;
    state = 'closed';
    endedOnItsOwn = true;
    log.warn({ room_id: roomId, reason }, 'room browser ended on its own');
    teardown();
    context.close().catch(() => {});
    for (const listener of [...closedListeners]) call(listener, log, roomId);
    closedListeners.clear();
  }

  page.on('close', () => end('page closed'));
  page.on('crash', () => end('page crashed'));
  context.on('close', () => end('context closed'));
  keepOneTab(context, page, () => state === 'open');
  dismissDialogs(page);

  const ensureOpen = () => {
    if (state !== 'open') throw browserNotRunning();
  };

  function asAppError(err: unknown): AppError {
    if (state !== 'open') return browserNotRunning();
    const mapped = toBrowserError(err);
    if (mapped.status >= 500) log.warn({ err, room_id: roomId }, 'room browser action failed');
    return mapped;
  }

  const onNavigationError = (err: unknown, target: string) => {
    if (state === 'open') log.info({ room_id: roomId, target, err: String(err) }, 'room navigation failed');
  };

  function dispatch(event: BrowserInput): Promise<unknown> {
    ensureOpen();
    // Clicks and keys give the page user activation, which is what lets it copy.
    if ((event.kind === 'mouse' && event.action !== 'move') || event.kind === 'key') gate.touch(roomId);
    if (event.kind !== 'key' || event.action === 'type') return applyInput(page, event, onNavigationError);
    const effect = event.action === 'up' ? 'none' : keyEffect(event.key, heldKeys);
    if (isModifier(event.key)) {
      if (event.action === 'down') heldKeys.add(event.key);
      if (event.action === 'up') heldKeys.delete(event.key);
    }
    const stroke = () => applyInput(page, event, onNavigationError);
    if (effect === 'paste') return gate.paste(roomId, clipboardText, stroke);
    if (effect === 'copy') return gate.copy(roomId, stroke);
    return stroke();
  }

  const session: ChromiumSession = {
    roomId,
    end,
    isOpen: () => state === 'open',
    async screenshot(quality) {
      ensureOpen();
      const q = Math.min(100, Math.max(1, Math.round(quality ?? deps.jpegQuality)));
      for (let attempt = 1; ; attempt++) {
        try {
          const shot = await cdp.send('Page.captureScreenshot', { format: 'jpeg', quality: q });
          return Buffer.from(shot.data, 'base64');
        } catch (err) {
          // Chromium has nothing to copy until the page has painted once, nor while a navigation
          // swaps the page's renderer; both pass.
          const transient = /Unable to capture screenshot|Not attached to an active page/i.test(String(err));
          if (!transient || attempt >= SCREENSHOT_ATTEMPTS || state !== 'open') throw asAppError(err);
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        }
      }
    },
    onFrame: (listener) => (state === 'open' ? screencast.subscribe(listener) : () => {}),
    async input(event) {
      ensureOpen();
      const parsed = ZBrowserInput.safeParse(event);
      if (!parsed.success) {
        throw new AppError('BAD_REQUEST', describeZodIssue(parsed.error.issues[0]!));
      }
      if (queued >= MAX_QUEUED_INPUTS) throw new AppError('TOO_MANY_REQUESTS', 'The browser is busy');
      // One at a time and in order: a mouse up must never overtake its mouse down.
      queued++;
      const run = inputs.then(() => dispatch(parsed.data));
      inputs = run.catch(() => {});
      try {
        await run;
      } catch (err) {
        throw asAppError(err);
      } finally {
        queued--;
      }
    },
    async setClipboard(text) {
      ensureOpen();
      if (typeof text !== 'string') throw new AppError('BAD_REQUEST', 'text must be a string');
      clipboardText = text.slice(0, CLIPBOARD_MAX_CHARS);
      gate.release(roomId);
    },
    onClipboard(listener) {
      if (state !== 'open') return () => {};
      const wrapped = (text: string) => listener(text);
      clipboardListeners.add(wrapped);
      return () => {
        clipboardListeners.delete(wrapped);
      };
    },
    onClosed(listener) {
      // Subscribed too late to see it happen: still told, so nobody waits for a dead browser.
      if (endedOnItsOwn) queueMicrotask(() => call(listener, log, roomId));
      if (state !== 'open') return () => {};
      const wrapped = () => listener();
      closedListeners.add(wrapped);
      return () => {
        closedListeners.delete(wrapped);
      };
    },
    currentUrl: () => page.url(),
    close() {
      if (state === 'open') {
        state = 'closing';
        closedListeners.clear();
        teardown();
        closing = context
          .close()
          .catch(() => {})
          .then(() => {
            state = 'closed';
          });
      }
      return closing ?? Promise.resolve();
    },
  };

  try {
    // Until the first document is parsed, the page may still be swapping renderers, and clicks or
    // screenshots sent then are lost.
    await page.goto(options.url, { waitUntil: 'domcontentloaded', timeout: START_NAVIGATION_MS });
  } catch (err) {
    // The session is usable anyway: the page shows the error and members can navigate elsewhere.
    log.info({ room_id: roomId, url: options.url, err: String(err) }, 'room start page did not load');
  }
  return session;
}
