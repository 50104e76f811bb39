import { EnvError, loadEnv } from './core/env';
import { createLogger } from './core/log';
import { exitOnSignals, logProcessFaults } from './lifecycle';
import { startServer } from './server';

// Process entry: configuration errors are one line on stderr; SIGTERM/SIGINT drain and exit 0.
let env: ReturnType<typeof loadEnv>;
try {
  env = loadEnv();
} catch (err) {
  if (!(err instanceof EnvError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}

const log = createLogger(env.LOG_LEVEL);
logProcessFaults(log);

try {
  exitOnSignals(await startServer(env, { log }), log);
} catch (err) {
  log.fatal({ err }, 'start-up failed');
  log.flush();
  process.stderr.write(`Portal could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
