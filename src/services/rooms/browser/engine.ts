import type { Browser } from 'playwright-core';
import { type ClipboardGate, createClipboardGate } from './clipboard';
import { type EgressProxy, startEgressProxy } from './egress-proxy';
import { createHostResolver, type HostResolver } from './network-guard';
import type { RuntimeLog } from './runtime';

// One Chromium process and what belongs to it: the egress proxy its rooms connect through and the
// process clipboard they share. The runtime launches one when the first room starts and closes it
// when the last room stops.

/** Flags that work headless, as root, in containers, without phoning home. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** How long a polite shutdown may take before the process is killed. */
const CLOSE_GRACE_MS = 5_000;

export type Engine = {
  browser: Browser;
  /** The Chromium browser process (undefined only if Chromium would not say). */
  pid: number | undefined;
  gate: ClipboardGate;
  /** Called when the browser goes away without close() (crash, killed). */
  onLost(listener: () => void): void;
  close(): Promise<void>;
};

export type EngineOptions = {
  executablePath: string;
  allowPrivateNetworks: boolean;
  log: RuntimeLog;
  resolveHost?: HostResolver;
};

export const isProcessAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The pid of the browser process. `chromium.launch()` hides its ChildProcess (only launchServer()
 * exposes one, at the price of a WebSocket hop for every CDP message), so Chromium is asked over
 * the browser-level CDP session. The pid lets close() kill a browser that will not exit.
 */
async function browserPid(browser: Browser): Promise<number | undefined> {
  try {
    const cdp = await browser.newBrowserCDPSession();
    const info = await cdp.send('SystemInfo.getProcessInfo');
    await cdp.detach().catch(() => {});
    return info.processInfo.find((p) => p.type === 'browser')?.id;
  } catch {
    return undefined;
  }
}

export async function launchEngine(opts: EngineOptions): Promise<Engine> {
  const { log } = opts;
  let proxy: EgressProxy | undefined;
  const args = [...CHROMIUM_ARGS];
  if (!opts.allowPrivateNetworks) {
    proxy = await startEgressProxy({ resolve: opts.resolveHost ?? createHostResolver(), log });
    args.push(
      `--proxy-server=${proxy.url}`,
      // Chromium never proxies loopback unless told to; "<-loopback>" removes that exception.
      '--proxy-bypass-list=<-loopback>',
      // WebRTC would otherwise send UDP around the proxy, to any address (STUN/TURN included).
      '--webrtc-ip-handling-policy=disable_non_proxied_udp',
    );
  }
  let browser: Browser;
  try {
    // Loaded with the first browser: playwright-core costs every start of a server a moment, and
    // most servers never open a room's browser.
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: opts.executablePath,
      headless: true,
      args,
      timeout: 30_000,
      // main.ts drains on signals and closes the runtime itself; Playwright still kills the
      // browser if this process exits without that.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (err) {
    await proxy?.close();
    throw err;
  }
  const pid = await browserPid(browser);
  const gate = createClipboardGate(browser);
  const lostListeners: Array<() => void> = [];
  let closing: Promise<void> | undefined;

  browser.on('disconnected', () => {
    if (closing) return;
    log.error({ pid }, 'shared browser process went away');
    void proxy?.close();
    void gate.close();
    for (const listener of lostListeners) listener();
  });
  log.info({ pid, guarded: Boolean(proxy) }, 'shared browser process started');

  async function shutdown() {
    await gate.close();
    const closed = browser.close().then(
      () => 'closed' as const,
      () => 'closed' as const,
    );
    const timeout = new Promise<'timeout'>((done) =>
      setTimeout(() => done('timeout'), CLOSE_GRACE_MS).unref(),
    );
    // Killed only when close() hangs: once Playwright has seen the process exit, its pid may
    // already belong to someone else.
    if ((await Promise.race([closed, timeout])) === 'timeout' && pid !== undefined && isProcessAlive(pid)) {
      log.warn({ pid }, 'shared browser did not exit; killing it');
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await proxy?.close();
    log.info({ pid }, 'shared browser process stopped');
  }

  return {
    browser,
    pid,
    gate,
    onLost: (listener) => lostListeners.push(listener),
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}
