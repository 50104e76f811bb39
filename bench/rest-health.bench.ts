import { httpLoad } from './lib/http-load';
import { median, startProcess } from './lib/processes';
import { isQuick, report } from './lib/report';

// GET /health through Portal's full middleware stack (headers, correlation id, logging, rate
// limit, tRPC-to-REST), with the default info-level request log, against bare express answering
// the same path, in the same run.
const rounds = isQuick ? 1 : 3;
const seconds = isQuick ? 1 : 8;
const warmupSeconds = isQuick ? 1 : 2;

// Started side by side: nothing is measured until both are up.
const [portal, bare] = await Promise.all([
  startProcess('src/main.ts', { RATE_LIMIT_HEALTH: '100000000' }),
  startProcess('bench/baselines/bare-express.ts', {}, 'baseline listening'),
]);
try {
  // Warm-up: JIT and connection pools.
  await httpLoad(`${portal.url}/health`, { seconds: warmupSeconds });
  await httpLoad(`${bare.url}/health`, { seconds: warmupSeconds });
  const portalRps: number[] = [];
  const bareRps: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const p = await httpLoad(`${portal.url}/health`, { seconds });
    const b = await httpLoad(`${bare.url}/health`, { seconds });
    if (p.non2xx || p.errors) throw new Error(`portal answered ${p.non2xx} non-2xx and ${p.errors} errors`);
    portalRps.push(p.requestsPerSecond);
    bareRps.push(b.requestsPerSecond);
  }
  report('rest.health', [
    {
      name: 'GET /health req/s (median)',
      value: median(portalRps),
      unit: 'req/s',
      baseline: { name: 'bare express', value: median(bareRps) },
    },
  ]);
} finally {
  await portal.stop();
  await bare.stop();
}
