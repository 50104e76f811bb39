import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors';
import { retryDelayMs, signatureOf } from '../../src/services/webhooks/delivery';
import { createTargetGuard } from '../../src/services/webhooks/target-guard';
import { makeTempDir, removeDir } from '../helpers/env';

// The pure parts of webhook delivery: the retry schedule, the signature, and the target checks.

describe('retryDelayMs', () => {
  it('doubles per attempt with at most 20 % jitter, so delays keep growing until the cap', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 30_000, 3_600_000, 0))).toEqual([
      30_000, 60_000, 120_000, 240_000,
    ]);
    expect(retryDelayMs(1, 30_000, 3_600_000, 1)).toBe(36_000);
    for (let n = 1; n < 6; n++) {
      // The longest delay of one attempt is still shorter than the shortest of the next.
      expect(retryDelayMs(n + 1, 1000, 1e9, 0)).toBeGreaterThan(retryDelayMs(n, 1000, 1e9, 0.999));
    }
    expect(retryDelayMs(30, 30_000, 3_600_000, 0.5)).toBe(3_600_000);
  });
});

describe('signatureOf', () => {
  it('is sha256= and the hex HMAC-SHA256 of the exact body', () => {
    const body = '{"event":"webhook.test"}';
    expect(signatureOf('s3cret', body)).toBe(
      `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`,
    );
    expect(signatureOf('s3cret', `${body} `)).not.toBe(signatureOf('s3cret', body));
  });
});

describe('createTargetGuard', () => {
  const dir = makeTempDir();
  const hosts = join(dir, 'hosts');
  afterAll(() => removeDir(dir));
  const reason = async (p: Promise<unknown>) =>
    p.then(
      () => 'allowed',
      (e: unknown) => (e instanceof AppError ? e.message : String(e)),
    );

  it('takes HTTPS on public addresses only, by default', async () => {
    writeFileSync(hosts, '203.0.114.7 public.test\n10.0.0.5 inside.test\n127.0.0.1 loop.test\n');
    const guard = createTargetGuard({ allowLoopback: false, hostsFile: hosts });
    expect(await guard.check('https://public.test:8443/hook')).toMatchObject({
      address: '203.0.114.7',
      family: 4,
    });
    expect(await reason(guard.check('http://public.test/hook'))).toBe('url must use HTTPS');
    expect(await reason(guard.check('not a url'))).toBe('url must be a valid URL');
    for (const url of [
      'https://inside.test/',
      'https://loop.test/',
      'https://127.0.0.1/',
      'https://[::1]/',
      'https://169.254.169.254/',
      'https://[fe80::1]/',
    ]) {
      expect(await reason(guard.check(url))).toBe('This address is not allowed');
    }
  });

  it('lets loopback through only with the test setting, and nothing else private', async () => {
    const guard = createTargetGuard({ allowLoopback: true, hostsFile: hosts });
    expect(await guard.check('https://loop.test/')).toMatchObject({ address: '127.0.0.1' });
    expect(await guard.check('https://[::1]:9/')).toMatchObject({ address: '::1', family: 6 });
    expect(await reason(guard.check('https://inside.test/'))).toBe('This address is not allowed');
  });

  it('reads the hosts file at every check (the name may be rebound between attempts)', async () => {
    const guard = createTargetGuard({ allowLoopback: false, hostsFile: hosts });
    writeFileSync(hosts, '203.0.114.9 flip.test\n');
    expect(await reason(guard.check('https://flip.test/'))).toBe('allowed');
    writeFileSync(hosts, '127.0.0.1 flip.test\n');
    expect(await reason(guard.check('https://flip.test/'))).toBe('This address is not allowed');
  });
});
