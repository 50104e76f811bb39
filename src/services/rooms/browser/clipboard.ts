import type { Browser, Page } from 'playwright-core';
import { AppError } from '../../../core/errors';
import { CLIPBOARD_MAX_CHARS } from './runtime';

// Each room has its own clipboard, but Chromium has one clipboard per process, shared by every
// context. So the room's text lives here in Node, and the process clipboard only matters at the
// instant of a paste: under one lock, the pasting room's text is written into it just before the
// Ctrl+V keystroke. Room contexts are not granted `clipboard-read`, so no page can read what
// another room left there; the init script answers `navigator.clipboard.readText()` with the
// room's own text instead.

export const COPY_BINDING = '__portalClipboardCopied';
export const READ_BINDING = '__portalClipboardRead';

/**
 * Runs in every frame before the page's scripts. Reports copies (user copy/cut, clipboardData set
 * by page handlers, the async Clipboard API) and serves readText from the room's clipboard.
 * A string rather than a function: tsx/esbuild may rewrite functions with helpers that do not
 * exist in the page.
 */
export const CLIPBOARD_INIT_SCRIPT = `(() => {
  if (globalThis.__portalClipboardInstalled) return;
  Object.defineProperty(globalThis, '__portalClipboardInstalled', { value: true });
  const MAX = ${CLIPBOARD_MAX_CHARS};
  const copied = globalThis.${COPY_BINDING};
  const read = globalThis.${READ_BINDING};
  const report = (text) => {
    try { (copied || globalThis.${COPY_BINDING})(typeof text === 'string' ? text.slice(0, MAX) : ''); } catch (e) {}
  };
  const focused = () => {
    let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    return el;
  };
  const selectedText = () => {
    const el = focused();
    if (el instanceof HTMLInputElement && el.type === 'password') return '';
    if (el instanceof HTMLTextAreaElement || el instanceof HTMLInputElement) {
      try {
        if (typeof el.selectionStart === 'number') return el.value.slice(el.selectionStart, el.selectionEnd);
      } catch (e) {}
    }
    const selection = globalThis.getSelection && getSelection();
    return selection ? String(selection) : '';
  };
  let current = null;
  let written = null;
  const setData = DataTransfer.prototype.setData;
  DataTransfer.prototype.setData = function (format, data) {
    if (current && this === current.clipboardData && /^text(\\/plain)?$/i.test(String(format))) written = String(data);
    return setData.apply(this, arguments);
  };
  const onCopy = (event) => {
    if (!event.isTrusted) return;
    // Read now: a cut removes the selection before the timer runs.
    const selected = selectedText();
    current = event;
    written = null;
    // After every page handler: a handler that called preventDefault replaced the copied data.
    setTimeout(() => {
      const text = event.defaultPrevented ? (written || '') : selected;
      current = null;
      report(text);
    }, 0);
  };
  addEventListener('copy', onCopy, true);
  addEventListener('cut', onCopy, true);
  const C = globalThis.Clipboard && Clipboard.prototype;
  if (!C) return;
  const writeText = C.writeText;
  C.writeText = function (text) {
    const done = writeText.apply(this, arguments);
    done.then(() => report(String(text)), () => {});
    return done;
  };
  const write = C.write;
  C.write = function (items) {
    const done = write.apply(this, arguments);
    done.then(() => {
      const item = Array.from(items || []).find((i) => i && i.types && i.types.includes('text/plain'));
      if (!item) return report('');
      item.getType('text/plain').then((blob) => blob.text()).then(report, () => report(''));
    }, () => {});
    return done;
  };
  const denied = () => Promise.reject(new DOMException('Read permission denied.', 'NotAllowedError'));
  // Like a browser's paste permission: only right after a click or key press in the page.
  const allowed = () => !navigator.userActivation || navigator.userActivation.isActive;
  C.readText = function () {
    if (!allowed()) return denied();
    return Promise.resolve((read || globalThis.${READ_BINDING})()).then((t) => String(t || ''));
  };
  C.read = function () {
    return this.readText().then((t) => [new ClipboardItem({ 'text/plain': new Blob([t], { type: 'text/plain' }) })]);
  };
})();`;

type PageGlobals = { navigator: { clipboard: { writeText(text: string): Promise<void> } } };

const WRITER_URL = 'https://clipboard.portal.invalid/';

export type ClipboardGate = ReturnType<typeof createClipboardGate>;

/**
 * The process clipboard of one Chromium, shared by its rooms. `owner` is the room whose content it
 * holds (its own copy, or text written for its paste); a paste by any other room rewrites it first.
 */
export function createClipboardGate(browser: Browser) {
  let owner: number | undefined;
  let lock: Promise<unknown> = Promise.resolve();
  let writer: Promise<Page> | undefined;

  // A private page of our own writes the clipboard: room pages may have replaced the Clipboard API.
  async function openWriter(): Promise<Page> {
    const context = await browser.newContext();
    try {
      await context.grantPermissions(['clipboard-write']);
      await context.route(WRITER_URL, (route) =>
        route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>clipboard</title>' }),
      );
      const page = await context.newPage();
      await page.goto(WRITER_URL);
      return page;
    } catch (err) {
      await context.close().catch(() => {});
      throw err;
    }
  }

  async function writeSystem(text: string) {
    for (let attempt = 0; ; attempt++) {
      writer ??= openWriter();
      const current = writer;
      try {
        const page = await current;
        await page.evaluate(
          (t) => (globalThis as unknown as PageGlobals).navigator.clipboard.writeText(t),
          text,
        );
        return;
      } catch (err) {
        if (writer === current) writer = undefined;
        await current.then((p) => p.context().close()).catch(() => {});
        if (attempt >= 1) throw new AppError('INTERNAL', 'The browser clipboard is not available', {}, err);
      }
    }
  }

  function serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = lock.then(fn);
    lock = run.catch(() => {});
    return run;
  }

  return {
    /** A copy happened in this room's page. */
    claim(roomId: number) {
      owner = roomId;
    },
    /**
     * The room is about to click or type: whatever that copies is not known until the page says
     * so, and until then no other room may paste the clipboard as its own.
     */
    touch(roomId: number) {
      if (owner !== undefined && owner !== roomId) owner = undefined;
    },
    /** The room's text changed (or the room closed): its next paste must write the clipboard again. */
    release(roomId: number) {
      if (owner === roomId) owner = undefined;
    },
    /** Runs a paste keystroke with the process clipboard holding the room's content. */
    paste<T>(roomId: number, text: string, press: () => Promise<T>): Promise<T> {
      return serialized(async () => {
        if (owner !== roomId) {
          await writeSystem(text);
          owner = roomId;
        }
        return press();
      });
    },
    /** Runs a copy keystroke; the clipboard is the room's from then on, whatever the page reports. */
    copy<T>(roomId: number, press: () => Promise<T>): Promise<T> {
      return serialized(async () => {
        owner = roomId;
        return press();
      });
    },
    async close() {
      const current = writer;
      writer = undefined;
      await current?.then((p) => p.context().close()).catch(() => {});
    },
  };
}
