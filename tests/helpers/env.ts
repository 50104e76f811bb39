import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Env, loadEnv } from '../../src/core/env';

export const makeTempDir = (prefix = 'portal-test-') => mkdtempSync(join(tmpdir(), prefix));
export const removeDir = (dir: string) => rmSync(dir, { recursive: true, force: true });

/** Configuration for a test server: random ports, a temporary DATA_DIR, silent logs. */
export function testEnvVars(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const vars: Record<string, string | undefined> = {
    PORT: '0',
    HOST: '127.0.0.1',
    WS_PORT: '0',
    LOG_LEVEL: 'silent',
    SOURCE_HASH: 'test-build',
    // The service monitor probes every service a test creates; suites that test it turn it on.
    SERVICE_CHECK_INTERVAL_SECONDS: '0',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined));
}

export const testEnv = (overrides: Record<string, string | undefined>): Env =>
  loadEnv(testEnvVars(overrides));
