import { loadEnv } from '../../src/core/env';
import { createLogger } from '../../src/core/log';
import { exitOnSignals, logProcessFaults } from '../../src/lifecycle';
import { startServer } from '../../src/server';
import { fixtureRouter } from './fixture-router';

// src/main.ts with the fixture procedures mounted, for process-level tests (SIGTERM drain).
const env = loadEnv();
const log = createLogger(env.LOG_LEVEL);
logProcessFaults(log);
exitOnSignals(await startServer(env, { log, router: fixtureRouter }), log);
