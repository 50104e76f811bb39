import type { Logger } from './core/log';
import type { RunningServer } from './server';

/** SIGTERM/SIGINT drain the server and exit 0 (API.md §11); a second signal exits at once. */
export function exitOnSignals(server: Pick<RunningServer, 'stop'>, log: Logger) {
  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting without draining');
      log.flush();
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    server.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

export function logProcessFaults(log: Logger) {
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    // State may be inconsistent after this: log it and let the supervisor restart the process.
    log.fatal({ err }, 'uncaught exception');
    log.flush();
    process.exit(1);
  });
}
