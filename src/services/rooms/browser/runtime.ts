import { z } from 'zod';
import type { HostResolver } from './network-guard';

// The shared-browser runtime of Portal rooms: what the browser host (services/rooms/browser-host.ts)
// needs from "a browser per room", whatever drives it. The Chromium implementation is chromium.ts.

/** The most text one clipboard transfer carries, either way. */
export const CLIPBOARD_MAX_CHARS = 100_000;

const coordinate = z.number().min(0).max(10_000);
const scrollDelta = z.number().min(-10_000).max(10_000);

/** Only web pages: `javascript:`, `file:`, `chrome:` and friends never reach the browser. */
export const ZBrowserUrl = z
  .string()
  .trim()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), { message: 'url must be an http or https URL' });

const ZMouseInput = z
  .object({
    kind: z.literal('mouse'),
    action: z.enum(['move', 'down', 'up', 'click', 'dblclick']),
    x: coordinate,
    y: coordinate,
    button: z.enum(['left', 'middle', 'right']).optional(),
  })
  .strict();

// zod 4 only nests discriminated unions inside a discriminated union (a plain z.union has no
// discriminator values to index), hence the inner unions on `action`.
const ZKeyInput = z.discriminatedUnion('action', [
  z
    .object({
      kind: z.literal('key'),
      action: z.enum(['down', 'up', 'press']),
      /** Playwright key names: `a`, `Enter`, `Control+c`. */
      key: z.string().min(1).max(32),
    })
    .strict(),
  z.object({ kind: z.literal('key'), action: z.literal('type'), text: z.string().min(1).max(1000) }).strict(),
]);

const ZScrollInput = z
  .object({ kind: z.literal('scroll'), x: coordinate, y: coordinate, dx: scrollDelta, dy: scrollDelta })
  .strict();

const ZNavigateInput = z.discriminatedUnion('action', [
  z.object({ kind: z.literal('navigate'), action: z.undefined().optional(), url: ZBrowserUrl }).strict(),
  z.object({ kind: z.literal('navigate'), action: z.enum(['back', 'forward', 'reload']) }).strict(),
]);

export const ZBrowserInput = z.discriminatedUnion('kind', [
  ZMouseInput,
  ZKeyInput,
  ZScrollInput,
  ZNavigateInput,
]);
export type BrowserInput = z.infer<typeof ZBrowserInput>;

export type BrowserStartOptions = { url: string; width: number; height: number };

export interface BrowserSession {
  readonly roomId: number;
  /** JPEG of the current page (viewport). */
  screenshot(quality?: number): Promise<Buffer>;
  /**
   * Live screencast (CDP Page.startScreencast, format jpeg, each frame acked). Runs only while at
   * least one listener is registered; returns the unsubscribe function.
   */
  onFrame(listener: (jpeg: Buffer) => void): () => void;
  /** Mouse/keyboard/scroll/navigate into the page. Coordinates are viewport CSS pixels. */
  input(event: BrowserInput): Promise<void>;
  /** Writes text into the remote browser's clipboard, so Ctrl+V inside the page pastes it. */
  setClipboard(text: string): Promise<void>;
  /**
   * Called with the text when something is copied or cut inside the remote page (user copy, or the
   * page writing navigator.clipboard / clipboardData). Returns unsubscribe.
   */
  onClipboard(listener: (text: string) => void): () => void;
  /** Called once if the session ends on its own (page/context crash, browser process died). */
  onClosed(listener: () => void): () => void;
  currentUrl(): string;
  close(): Promise<void>;
}

export interface BrowserRuntime {
  /** MAX_BROWSERS */
  readonly capacity: number;
  /** Open sessions on this node. */
  activeCount(): number;
  has(roomId: number): boolean;
  get(roomId: number): BrowserSession | undefined;
  /**
   * Opens the room's session (one isolated context per room, one page); returns the existing one
   * if already open. Past capacity, or with capacity 0, throws SERVICE_UNAVAILABLE. Concurrent
   * calls for the same room share one launch.
   */
  start(roomId: number, opts: BrowserStartOptions): Promise<BrowserSession>;
  /** No-op when not open. */
  stop(roomId: number): Promise<void>;
  /** Closes every session and the browser process. */
  close(): Promise<void>;
}

export type RuntimeLog = {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
};

export type ChromiumRuntimeOptions = {
  executablePath: string;
  capacity: number;
  allowPrivateNetworks: boolean;
  /** Screencast and default screenshot quality. */
  jpegQuality: number;
  /** Screencast frames per second cap. */
  maxFps: number;
  log: RuntimeLog;
  /**
   * How the network guard resolves a host name when private networks are not allowed. Defaults
   * to DNS with `isPublicAddress`; tests point a made-up public name at a local server.
   */
  resolveHost?: HostResolver;
};
