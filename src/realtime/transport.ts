import type { RealtimeTransport, TransportOptions } from './types';
import { createUwsTransport, loadUws, UWS_MODULE_NAMES } from './uws-transport';
import { createWsTransport } from './ws-transport';

export type TransportKind = 'auto' | 'uws' | 'ws';

/**
 * Picks the realtime transport (WS_TRANSPORT): `auto` prefers uWebSockets.js (official module, then
 * @trufflesuite/uws-js-unofficial) and falls back to `ws`; `uws` refuses to start without a uWS build,
 * so an operator who asked for it never runs the slower fallback unknowingly.
 */
export function createTransport(kind: TransportKind, opts: TransportOptions): RealtimeTransport {
  const { log } = opts;
  if (kind === 'ws') {
    log.info(
      { transport: 'ws', reason: 'WS_TRANSPORT=ws' },
      'realtime transport: ws (chosen by WS_TRANSPORT=ws)',
    );
    return createWsTransport(opts);
  }
  const { loaded, failures } = loadUws();
  if (loaded) {
    const reason =
      loaded.name === UWS_MODULE_NAMES[0]
        ? 'the official uWebSockets.js module is installed'
        : 'the official uWebSockets.js module is not installed; using the unofficial build';
    log.info(
      { transport: 'uws', module: loaded.name, reason, skipped: failures },
      `realtime transport: uWebSockets.js via ${loaded.name} (${reason})`,
    );
    return createUwsTransport(opts, loaded);
  }
  if (kind === 'uws') {
    throw new Error(`WS_TRANSPORT=uws but no uWebSockets.js build loads here: ${failures.join('; ')}`);
  }
  log.warn(
    { transport: 'ws', failures },
    `realtime transport: ws FALLBACK, no uWebSockets.js build loads here (${failures.join('; ')})`,
  );
  return createWsTransport(opts);
}
