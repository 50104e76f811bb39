import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { AnyRouter } from '@trpc/server';
import { startAdminChannel } from './cli/admin-channel';
import { createBus } from './core/bus';
import type { Env } from './core/env';
import { createLogger, type Logger } from './core/log';
import { loadSecretKey } from './core/secret-key';
import { openDatabase } from './db/client';
import { type AppDeps, createAppDeps } from './deps';
import { registerChatHub } from './realtime/chat/hub';
import { registerPortalHub } from './realtime/portal/hub';
import { CloseCode } from './realtime/protocol';
import { registerRelayHub } from './realtime/relay/hub';
import { createTransport } from './realtime/transport';
import type { RealtimeTransport } from './realtime/types';
import { createRestApp } from './rest/app';
import { webProxyUpgrade } from './rest/handlers/web-proxy';
import { appRouter } from './routers/_app';
import { startSubscriptionExpiry } from './services/admin/subscriptions';
import { startCertificateService } from './services/certificates/active';
import { startCertificateRenewal } from './services/certificates/renewal';
import { startServiceMonitor } from './services/connections/service-monitor';
import { startMatchSweeper } from './services/match/sweeper';
import { matchDepsOf } from './services/match/types';
import { startRetentionJob } from './services/retention/run-policies';
import { startLiveReconciler } from './services/streams/reconcile';
import { startStreamMedia } from './services/vod/stream-media';
import { startWebhookWorker } from './services/webhooks/worker';

export type RunningServer = {
  url: string;
  port: number;
  /** The realtime transport's direct port (null on the ws fallback, which shares PORT). */
  wsPort: number | null;
  /** HTTPS with the active certificate (TLS_PORT), or null. */
  tlsPort: number | null;
  deps: AppDeps;
  transport: RealtimeTransport;
  http: Server;
  /** Graceful drain of API.md §11: stop accepting, finish in-flight work, close sockets with 1001. */
  stop(): Promise<void>;
};

export type StartOptions = {
  log?: Logger;
  /** Tests mount extra fixture procedures; production always serves appRouter. */
  router?: AnyRouter;
};

/** The composition root: configuration in, a listening server out. */
export async function startServer(env: Env, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(env.LOG_LEVEL);
  const dataDir = resolve(env.DATA_DIR);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const secret = loadSecretKey(env.PORTAL_SECRET_KEY, dataDir);
  if (secret.source === 'generated')
    log.info({ data_dir: dataDir }, 'generated PORTAL_SECRET_KEY into DATA_DIR');
  if (env.REDIS_URL && !env.PORTAL_SECRET_KEY) {
    log.warn('cluster mode without PORTAL_SECRET_KEY: every node must share one key, set it explicitly');
  }

  const database = await openDatabase(env.DATABASE_URL ? { url: env.DATABASE_URL } : { dataDir });
  const cleanups: Array<() => Promise<unknown>> = [() => database.close()];
  try {
    await database.migrate();
    log.info({ database: database.kind }, 'database ready');
    const bus = await createBus({ redisUrl: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX, log });
    cleanups.unshift(() => bus.close());
    const deps = createAppDeps({ env, log, database, bus, secretKey: secret.key });

    await deps.credentialCache.attach(database);
    cleanups.unshift(() => deps.credentialCache.detach());
    await deps.settings.attach(database);
    cleanups.unshift(() => deps.settings.detach());
    await deps.browsers.attach();
    cleanups.unshift(() => deps.browsers.close());
    await deps.streamLifecycle.start({ bus, db: database.db, log: log.child({ component: 'streams' }) });
    cleanups.unshift(() => deps.streamLifecycle.stop());
    const reconciler = startLiveReconciler(
      { ...deps, db: database.db, log: log.child({ component: 'streams' }) },
      env.STREAM_RECONCILE_SECONDS,
    );
    cleanups.unshift(() => reconciler.stop());
    const expiry = await startSubscriptionExpiry({ db: database.db, log });
    cleanups.unshift(() => expiry.stop());
    const matchSweeper = startMatchSweeper({ deps: matchDepsOf(deps), log });
    cleanups.unshift(() => matchSweeper.stop());
    const retention = startRetentionJob({
      db: database.db,
      env: deps.env,
      log: log.child({ component: 'retention' }),
      intervalMs: env.RETENTION_INTERVAL_SECONDS * 1000,
      uploads: { secretBox: deps.secretBox, secretKey: secret.key, dataDir, log },
    });
    cleanups.unshift(() => retention.stop());
    const webhookWorker = startWebhookWorker({
      ...deps,
      db: database.db,
      log: log.child({ component: 'webhooks' }),
    });
    cleanups.unshift(() => webhookWorker.stop());
    // Relays and VOD recording of live streams; kills media processes a dead run left behind.
    const streamMedia = await startStreamMedia(deps);
    cleanups.unshift(() => streamMedia.stop());
    const monitor = startServiceMonitor({ db: database.db, bus, log }, env.SERVICE_CHECK_INTERVAL_SECONDS);
    cleanups.unshift(() => monitor.stop());
    // The embedded database admits one process: the admin CLI reaches it through this socket.
    if (database.kind === 'pglite') {
      const channel = await startAdminChannel(deps);
      cleanups.unshift(() => channel.close());
    }

    let draining = false;
    const app = createRestApp({ deps, router: opts.router ?? appRouter, isDraining: () => draining });
    const http = createServer(app);
    // Slow-loris guards; keep-alive longer than common proxies' idle timeouts.
    http.headersTimeout = 20_000;
    http.requestTimeout = 60_000;
    http.keepAliveTimeout = 65_000;

    const transport = createTransport(env.WS_TRANSPORT, {
      host: env.WS_HOST,
      port: env.WS_PORT,
      maxPayloadBytes: env.WS_MAX_PAYLOAD_BYTES,
      maxBackpressureBytes: env.WS_MAX_BACKPRESSURE_BYTES,
      messagesPerSecond: env.WS_MESSAGES_PER_SECOND,
      idleTimeoutSeconds: env.WS_IDLE_TIMEOUT_SECONDS,
      maxSocketsPerKey: env.WS_MAX_SOCKETS_PER_USER,
      trustProxy: env.TRUST_PROXY,
      log,
    });
    const proxyUpgrades = webProxyUpgrade(deps);
    transport.attach(http, proxyUpgrades);
    deps.realtime = { connectionCount: () => transport.connectionCount() };
    const portalHub = await registerPortalHub({ transport, deps });
    cleanups.unshift(() => portalHub.close());
    const chatHub = await registerChatHub({ transport, deps });
    cleanups.unshift(() => chatHub.close());
    registerRelayHub({ transport, deps, maxRelaysPerUser: env.WS_MAX_SOCKETS_PER_USER });
    const wsPort = await transport.listen();
    const certificates = await startCertificateService({
      database,
      box: deps.secretBox,
      dataDir,
      log,
      ...(env.TLS_PORT !== undefined && {
        tls: { host: env.HOST, port: env.TLS_PORT, app, attach: (server) => transport.attach(server) },
      }),
    });
    cleanups.unshift(() => certificates.stop());
    const renewal = startCertificateRenewal({ db: database.db, box: deps.secretBox, env: deps.env, log });
    cleanups.unshift(() => renewal.stop());
    const tlsPort = certificates.tlsPort;

    await new Promise<void>((ok, fail) => {
      http.once('error', fail);
      http.listen(env.PORT, env.HOST, () => {
        http.off('error', fail);
        ok();
      });
    });
    const port = (http.address() as AddressInfo).port;
    const host = env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
    const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
    log.info(
      {
        url,
        ws_transport: transport.kind,
        ws_port: wsPort,
        tls_port: tlsPort,
        commit: deps.build.sourceHash,
      },
      'portal listening',
    );

    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        draining = true;
        log.info('draining: no new connections, finishing in-flight requests');
        const closed = new Promise<void>((ok) => http.close(() => ok()));
        http.closeIdleConnections();
        await transport.closeAll(CloseCode.GOING_AWAY, 'Server shutting down');
        proxyUpgrades.closeAll();
        const timer = setTimeout(() => {
          log.warn({ timeout_ms: env.SHUTDOWN_TIMEOUT_MS }, 'drain timed out; closing remaining connections');
          http.closeAllConnections();
        }, env.SHUTDOWN_TIMEOUT_MS);
        await closed;
        clearTimeout(timer);
        for (const cleanup of cleanups) await cleanup().catch((err) => log.error({ err }, 'cleanup failed'));
        log.info('stopped');
        log.flush();
      })();
      return stopping;
    };

    return { url, port, wsPort, tlsPort, deps, transport, http, stop };
  } catch (err) {
    for (const cleanup of cleanups) await cleanup().catch(() => {});
    throw err;
  }
}
