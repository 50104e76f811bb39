import type { BrowserContext, Page } from 'playwright-core';

// House rules for a page that many people look at and nobody owns the window of.

const WEB = /^https?:/i;

/**
 * Members see one tab: a popup (window.open, target=_blank) is closed and its address opened in
 * the room's page instead.
 */
export function keepOneTab(context: BrowserContext, page: Page, isOpen: () => boolean) {
  context.on('page', (popup) => {
    if (popup === page) return;
    void (async () => {
      if (!WEB.test(popup.url())) {
        await popup.waitForURL(WEB, { waitUntil: 'commit', timeout: 5_000 }).catch(() => {});
      }
      const url = popup.url();
      await popup.close().catch(() => {});
      if (isOpen() && WEB.test(url)) await page.goto(url, { waitUntil: 'commit' }).catch(() => {});
    })();
  });
}

/** Nobody can answer alert/confirm/prompt on a shared screen; leaving a page is always allowed. */
export function dismissDialogs(page: Page) {
  page.on('dialog', (dialog) => {
    (dialog.type() === 'beforeunload' ? dialog.accept() : dialog.dismiss()).catch(() => {});
  });
}
