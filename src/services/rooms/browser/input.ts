import type { Page } from 'playwright-core';
import type { BrowserInput } from './runtime';

// Members' mouse, keyboard, scroll and navigation events, replayed into a room's page.

const MODIFIERS = new Set(['Alt', 'Control', 'ControlOrMeta', 'Meta', 'Shift']);

/** Longer text goes in as one insertion; shorter text as key strokes, which pages listen to. */
const TYPE_AS_KEYS_MAX = 64;

export const isModifier = (key: string) => MODIFIERS.has(key);

/** Splits a Playwright chord (`Control+Shift+v`, `Control++`) into its modifiers and main key. */
export function splitChord(key: string): { modifiers: string[]; main: string } {
  if (key === '+') return { modifiers: [], main: '+' };
  if (key.endsWith('++')) return { modifiers: key.slice(0, -2).split('+'), main: '+' };
  const parts = key.split('+');
  return { modifiers: parts.slice(0, -1), main: parts.at(-1) ?? key };
}

export type KeyEffect = 'paste' | 'copy' | 'none';

/** What a key stroke does to the clipboard, given the modifiers already held down. */
export function keyEffect(key: string, held: ReadonlySet<string>): KeyEffect {
  const { modifiers, main } = splitChord(key);
  const mods = new Set([...modifiers, ...held]);
  const ctrl = mods.has('Control') || mods.has('Meta') || mods.has('ControlOrMeta');
  const shift = mods.has('Shift');
  const lower = main.toLowerCase();
  if ((ctrl && lower === 'v') || (shift && main === 'Insert')) return 'paste';
  if ((ctrl && (lower === 'c' || lower === 'x' || main === 'Insert')) || (shift && main === 'Delete')) {
    return 'copy';
  }
  return 'none';
}

type NavigationError = (err: unknown, url: string) => void;

/**
 * Replays one event. Navigation only starts here: a slow site must not hold up the mouse and key
 * events queued behind it, and a page that fails to load shows Chromium's error page anyway.
 */
export async function applyInput(page: Page, event: BrowserInput, onNavigationError: NavigationError) {
  switch (event.kind) {
    case 'mouse': {
      const button = event.button ?? 'left';
      if (event.action === 'click') return page.mouse.click(event.x, event.y, { button });
      if (event.action === 'dblclick') return page.mouse.dblclick(event.x, event.y, { button });
      await page.mouse.move(event.x, event.y);
      if (event.action === 'down') await page.mouse.down({ button });
      if (event.action === 'up') await page.mouse.up({ button });
      return;
    }
    case 'scroll':
      await page.mouse.move(event.x, event.y);
      return page.mouse.wheel(event.dx, event.dy);
    case 'key':
      if (event.action === 'type') {
        return event.text.length <= TYPE_AS_KEYS_MAX
          ? page.keyboard.type(event.text)
          : page.keyboard.insertText(event.text);
      }
      return page.keyboard[event.action](event.key);
    case 'navigate': {
      const options = { waitUntil: 'commit' as const, timeout: 30_000 };
      const target = event.action === undefined ? event.url : event.action;
      const navigation =
        event.action === undefined
          ? page.goto(event.url, options)
          : event.action === 'back'
            ? page.goBack(options)
            : event.action === 'forward'
              ? page.goForward(options)
              : page.reload(options);
      navigation.catch((err: unknown) => onNavigationError(err, target));
      return;
    }
  }
}
