import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { loadSecretKey } from '../src/core/secret-key';
import { inviteCodeFor } from '../src/services/auth/invite-code';
import { httpLoad } from './lib/http-load';
import { median, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';

// REST through Portal's full middleware stack (headers, correlation id, the default info-level
// request log, rate limits, tRPC-to-REST) against bare express answering GET /health, in the same
// run: GET /health (rest.health) and the authenticated GET /users/me with a Bearer JWT
// (rest.users-me; issue #8's target: ≥ 50% of bare express). One Portal serves both; each round
// loads the three targets one after the other.
const rounds = isQuick ? 1 : 3;
const seconds = isQuick ? 1 : 8;
const warmupSeconds = isQuick ? 1 : 2;
const secretText = randomBytes(32).toString('hex');

// Started side by side: nothing is measured until both are up.
const [portal, bare] = await Promise.all([
  startProcess('src/main.ts', {
    ...(process.env.BENCH_DATABASE_URL && { DATABASE_URL: process.env.BENCH_DATABASE_URL }),
    PORTAL_SECRET_KEY: secretText,
    RATE_LIMIT_HEALTH: '100000000',
    RATE_LIMIT_AUTH: '100000000',
  }),
  startProcess('bench/baselines/bare-express.ts', {}, 'baseline listening'),
]);
try {
  const invite = inviteCodeFor(loadSecretKey(secretText, tmpdir()).key);
  const post = (path: string, body: object) =>
    fetch(`${portal.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => {
      if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<Record<string, unknown>>;
    });
  await post('/api/register', { username: 'bench_user', password: 'bench password', invite_code: invite });
  const { token } = await post('/api/token', { username: 'bench_user', password: 'bench password' });
  const headers = { authorization: `Bearer ${String(token)}` };

  // Warm-up (JIT, connection pools): the Portal paths one after the other, bare express alongside.
  await Promise.all([
    httpLoad(`${portal.url}/users/me`, { seconds: warmupSeconds, headers }).then(() =>
      httpLoad(`${portal.url}/health`, { seconds: warmupSeconds }),
    ),
    httpLoad(`${bare.url}/health`, { seconds: warmupSeconds }),
  ]);
  const me: number[] = [];
  const health: number[] = [];
  const bareRps: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const m = await httpLoad(`${portal.url}/users/me`, { seconds, headers });
    if (m.non2xx || m.errors)
      throw new Error(`/users/me answered ${m.non2xx} non-2xx and ${m.errors} errors`);
    me.push(m.requestsPerSecond);
    const h = await httpLoad(`${portal.url}/health`, { seconds });
    if (h.non2xx || h.errors) throw new Error(`/health answered ${h.non2xx} non-2xx and ${h.errors} errors`);
    health.push(h.requestsPerSecond);
    bareRps.push((await httpLoad(`${bare.url}/health`, { seconds })).requestsPerSecond);
  }
  report('rest.health', [
    {
      name: 'GET /health req/s (median)',
      value: median(health),
      unit: 'req/s',
      baseline: { name: 'bare express', value: median(bareRps) },
    },
  ]);
  report('rest.users-me', [
    {
      name: 'GET /users/me (Bearer JWT) req/s (median)',
      value: median(me),
      unit: 'req/s',
      baseline: { name: 'GET /health, same server', value: median(health) },
    },
    {
      name: 'GET /users/me (Bearer JWT) req/s (median)',
      value: median(me),
      unit: 'req/s',
      baseline: { name: 'bare express', value: median(bareRps) },
    },
  ]);
} finally {
  await portal.stop();
  await bare.stop();
}
