import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer, RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { SecretBox } from '../../core/crypto';
import type { Logger } from '../../core/log';
import type { Database } from '../../db/client';
import { OPERATOR_CHANNEL } from '../settings/live-settings';
import { generateSelfSigned } from './self-signed';
import { loadActiveCertificate, storeCertificate } from './store';

// What a node does with the active certificate (docs/certificates.md): it writes it to
// DATA_DIR/certs (fullchain.pem, privkey.pem 0600) for a reverse proxy to load, and with TLS_PORT
// set it serves HTTPS (and WebSockets) there itself. A change of the active certificate anywhere
// reaches every node through the `portal_operator` NOTIFY of migration 0016: files are rewritten
// and the TLS listener swaps its context without dropping connections.

export const certsDirOf = (dataDir: string) => join(dataDir, 'certs');

type Active = NonNullable<Awaited<ReturnType<typeof loadActiveCertificate>>>;

function writeAtomically(path: string, text: string, mode: number) {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode });
  chmodSync(temporary, mode);
  renameSync(temporary, path);
}

function exportPair(dataDir: string, active: Active) {
  const dir = certsDirOf(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeAtomically(join(dir, 'fullchain.pem'), active.certificate, 0o644);
  writeAtomically(join(dir, 'privkey.pem'), active.key, 0o600);
}

/** With TLS_PORT and no certificate yet, HTTPS starts with a self-signed one for these names. */
async function ensureOne(opts: { database: Database; box: SecretBox; host: string; log: Logger }) {
  if (await loadActiveCertificate(opts.database.db, opts.box)) return;
  const names = [
    'localhost',
    '127.0.0.1',
    ...(['0.0.0.0', '::', '127.0.0.1'].includes(opts.host) ? [] : [opts.host]),
  ];
  const pair = await generateSelfSigned({ domains: names, days: 365 });
  try {
    await storeCertificate({
      db: opts.database.db,
      box: opts.box,
      actor: 'system',
      name: 'Generated at first start',
      source: 'self_signed',
      ...pair,
      activate: true,
    });
    opts.log.warn(
      { domains: names },
      'TLS_PORT set without a certificate: serving a generated self-signed one',
    );
  } catch (err) {
    // Another node activated one meanwhile (an index admits one active certificate): use that.
    if (!(await loadActiveCertificate(opts.database.db, opts.box))) throw err;
  }
}

export async function startCertificateService(opts: {
  database: Database;
  box: SecretBox;
  dataDir: string;
  log: Logger;
  tls?: { host: string; port: number; app: RequestListener; attach(server: HttpServer): void };
}) {
  const { database, box, log } = opts;
  if (opts.tls) await ensureOne({ database, box, host: opts.tls.host, log });
  let current = await loadActiveCertificate(database.db, box);
  if (current) exportPair(opts.dataDir, current);

  let https: HttpsServer | null = null;
  let tlsPort: number | null = null;
  if (opts.tls && current) {
    https = createHttpsServer({ cert: current.certificate, key: current.key }, opts.tls.app);
    // WebSockets over TLS take the same bridge as on PORT.
    opts.tls.attach(https as unknown as HttpServer);
    const server = https;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(opts.tls!.port, opts.tls!.host, () => {
        server.off('error', fail);
        ok();
      });
    });
    tlsPort = (server.address() as AddressInfo).port;
    log.info({ tls_port: tlsPort, certificate_id: current.id }, 'serving HTTPS with the active certificate');
  }

  let reloading: Promise<void> | null = null;
  const reload = () => {
    reloading ??= (async () => {
      try {
        const next = await loadActiveCertificate(database.db, box);
        if (!next || next.fingerprint === current?.fingerprint) return;
        exportPair(opts.dataDir, next);
        https?.setSecureContext({ cert: next.certificate, key: next.key });
        current = next;
        log.info({ certificate_id: next.id }, 'active certificate changed: exported and serving it');
      } catch (err) {
        log.error({ err }, 'could not load the active certificate; keeping the previous one');
      } finally {
        reloading = null;
      }
    })();
    return reloading;
  };
  const unlisten = await database.listen(
    OPERATOR_CHANNEL,
    (payload) => {
      if (payload === 'tls_certificates') void reload();
    },
    () => void reload(),
  );

  return {
    tlsPort,
    /** Resolves once a reload that is under way has finished (tests). */
    settled: () => reloading ?? Promise.resolve(),
    async stop() {
      await unlisten();
      if (!https) return;
      const server = https;
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 5000).unref();
      await closed;
    },
  };
}
