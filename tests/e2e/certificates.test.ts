import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acmeChallenges, tlsCertificates } from '../../src/db/schema';
import type { RunningServer } from '../../src/server';
import { generateSelfSigned } from '../../src/services/certificates/self-signed';
import { trpcAs, trpcRefusal } from '../helpers/admin-http';
import { runCli } from '../helpers/cli';
import { clusterSkipReason, startCluster } from '../helpers/cluster';
import { dumpAllTables } from '../helpers/database';
import { makeTempDir, removeDir } from '../helpers/env';
import { api } from '../helpers/identity';
import { opensslPair } from '../helpers/pem-pairs';
import { waitFor } from '../helpers/portal-client';
import { roomKit } from '../helpers/rooms';
import { adminCaller, NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// Certificate management (seed 002, API.md §8/§10: admin router and CLI) against a server that
// serves HTTPS on TLS_PORT: the self-signed certificate of the first start, uploads checked with
// node's X509Certificate (and each refusal), generated certificates, activation reaching the TLS
// listener and DATA_DIR/certs, deletion rules, the ACME challenge route. ACME issuance against a
// local ACME server is in certificates-acme.test.ts.

let server: TestServer;
const { person } = roomKit(() => server);
const files = makeTempDir('portal-certs-');

beforeAll(async () => {
  server = await startTestServer({ env: { ...NO_REQUEST_LIMITS, TLS_PORT: '0' } });
});
afterAll(async () => {
  await server?.close();
  removeDir(files);
});

const admin = async () => trpcAs(server, (await person(2)).token).admin;

/** The fingerprint of the certificate the TLS listener presents now. */
const servedFingerprint = () =>
  new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: server.tlsPort!, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });

const exported = () => readFileSync(join(server.dataDir, 'certs', 'fullchain.pem'), 'utf8');

describe('the active certificate', () => {
  it('is a generated self-signed one at the first start with TLS_PORT, served and exported', async () => {
    expect(server.tlsPort).toBeGreaterThan(0);
    const { certificates } = await (await admin()).certificates.list.query();
    expect(certificates).toHaveLength(1);
    const [first] = certificates;
    expect(first).toMatchObject({
      source: 'self_signed',
      is_active: true,
      domains: ['DNS:localhost', 'IP:127.0.0.1'],
    });
    expect(await servedFingerprint()).toBe(first!.fingerprint_sha256);
    expect(statSync(join(server.dataDir, 'certs', 'privkey.pem')).mode & 0o777).toBe(0o600);
    // HTTPS serves the same API.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      httpsGet(`https://127.0.0.1:${server.tlsPort}/health`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).once('error', reject);
    });
    expect(status).toBe(200);
  });

  it('an uploaded pair is checked, stored with its key sealed, and once activated served and exported', async () => {
    const a = await admin();
    const pair = opensslPair({ cn: 'upload.test', san: 'DNS:upload.test,DNS:www.upload.test' });
    const stored = await a.certificates.upload.mutate({
      certificate: pair.cert,
      key: pair.key,
      name: 'Uploaded',
    });
    expect(stored).toMatchObject({
      name: 'Uploaded',
      source: 'upload',
      common_name: 'upload.test',
      domains: ['DNS:upload.test', 'DNS:www.upload.test'],
      is_active: false,
      expired: false,
    });
    expect(stored.days_left).toBeGreaterThanOrEqual(29);
    expect(stored).not.toHaveProperty('private_key');
    const body = pair.key.split('\n')[1]!;
    expect(await dumpAllTables(server.deps.database)).not.toContain(body);

    await a.certificates.activate.mutate({ id: stored.id });
    await waitFor(
      async () => (await servedFingerprint()) === stored.fingerprint_sha256,
      'the TLS listener serves it',
    );
    expect(exported()).toBe((await a.certificates.show.query({ id: stored.id })).certificate_pem);
    expect(readFileSync(join(server.dataDir, 'certs', 'privkey.pem'), 'utf8')).toContain('BEGIN PRIVATE KEY');
    const list = (await a.certificates.list.query()).certificates;
    expect(list.filter((c) => c.is_active).map((c) => c.id)).toEqual([stored.id]);
  });

  it('refuses what cannot serve TLS, each with a clear reason, storing nothing', async () => {
    const a = await admin();
    const before = (await a.certificates.list.query()).certificates.length;
    const good = opensslPair();
    const other = opensslPair();
    const refusal = (input: { certificate: string; key: string; passphrase?: string }) =>
      trpcRefusal(a.certificates.upload.mutate(input));
    expect(await refusal({ certificate: 'hello', key: good.key })).toMatchObject({
      status: 400,
      error: 'certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)',
    });
    expect(
      await refusal({
        certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        key: good.key,
      }),
    ).toMatchObject({ status: 400, error: 'certificate could not be parsed' });
    expect(await refusal({ certificate: good.cert, key: 'not a key' })).toMatchObject({
      status: 400,
      error: 'key is not a PEM private key (-----BEGIN PRIVATE KEY-----)',
    });
    expect(await refusal({ certificate: good.cert, key: other.key })).toMatchObject({
      status: 400,
      error: 'The private key does not match the certificate',
    });
    const weak = opensslPair({ key: 'rsa1024' });
    expect(await refusal({ certificate: weak.cert, key: weak.key })).toMatchObject({
      error: 'RSA keys must be at least 2048 bits',
    });
    const nameless = opensslPair({ san: '' });
    expect(await refusal({ certificate: nameless.cert, key: nameless.key })).toMatchObject({
      error: 'The certificate names no host (no subjectAltName DNS or IP entry)',
    });
    const old = await generateSelfSigned({
      domains: ['old.test'],
      days: 1,
      now: new Date(Date.now() - 10 * 86_400_000),
    });
    expect(await refusal({ certificate: old.certificate, key: old.key })).toMatchObject({
      error: expect.stringMatching(/^The certificate expired on \d{4}-/),
    });
    const locked = opensslPair({ passphrase: 'open sesame' });
    expect(await refusal({ certificate: locked.cert, key: locked.key })).toMatchObject({
      error: 'key is encrypted: give its passphrase',
    });
    expect(await refusal({ certificate: locked.cert, key: locked.key, passphrase: 'wrong' })).toMatchObject({
      error: 'key could not be decrypted with that passphrase',
    });
    const chained = `${good.cert}${other.cert}`;
    expect(await refusal({ certificate: chained, key: good.key })).toMatchObject({
      error: 'certificate 2 of the chain did not issue certificate 1 (put the leaf first, then its issuers)',
    });
    expect(await refusal({ certificate: 'x'.repeat(70_000), key: good.key })).toMatchObject({ status: 400 });
    expect((await a.certificates.list.query()).certificates).toHaveLength(before);
    // An encrypted key with its passphrase is accepted and stored decrypted (sealed).
    const unlocked = await a.certificates.upload.mutate({
      certificate: locked.cert,
      key: locked.key,
      passphrase: 'open sesame',
    });
    expect(unlocked.source).toBe('upload');
  });

  it('is managed by Admins only, not over REST', async () => {
    const user = await person(0);
    expect(await trpcRefusal(trpcAs(server, user.token).admin.certificates.list.query())).toMatchObject({
      status: 403,
      error: 'Admin access required',
    });
    expect((await api(server, 'GET', '/api/certificates', { token: user.token })).status).toBe(404);
  });

  it('an active certificate cannot be deleted; others can; unknown ids are 404', async () => {
    const a = await admin();
    const active = (await a.certificates.list.query()).certificates.find((c) => c.is_active)!;
    expect(await trpcRefusal(a.certificates.delete.mutate({ id: active.id }))).toMatchObject({
      status: 409,
      error: 'This certificate is in use: activate another one before deleting it',
    });
    const spare = await a.certificates.selfSigned.mutate({ domains: ['spare.test'], days: 10 });
    expect(await a.certificates.delete.mutate({ id: spare.id })).toEqual({ success: true, id: spare.id });
    expect(await trpcRefusal(a.certificates.show.query({ id: spare.id }))).toMatchObject({
      status: 404,
      error: 'Certificate not found',
    });
    expect(await trpcRefusal(a.certificates.selfSigned.mutate({ domains: ['bad name!'] }))).toMatchObject({
      status: 400,
      error: 'Each domain must be a host name or an IP address',
    });
  });
});

describe('the CLI', () => {
  it('generates, uploads, lists, activates and refuses', async () => {
    const env = {
      DATA_DIR: server.dataDir,
      ...(server.deps.env.DATABASE_URL && { DATABASE_URL: server.deps.env.DATABASE_URL }),
    };
    const pair = opensslPair({ cn: 'cli.test', san: 'DNS:cli.test' });
    const mismatched = opensslPair();
    writeFileSync(join(files, 'cert.pem'), pair.cert);
    writeFileSync(join(files, 'key.pem'), pair.key);
    writeFileSync(join(files, 'other.pem'), mismatched.key);
    const upload = (cert: string, key: string) =>
      runCli(env, 'cert', 'upload', '--cert', join(files, cert), '--key', join(files, key), '--json');
    const [generated, uploaded, refused, missing] = await Promise.all([
      runCli(
        env,
        'cert',
        'self-signed',
        '--domain',
        'gen.test',
        '--domain',
        '127.0.0.2',
        '--days',
        '20',
        '--json',
      ),
      upload('cert.pem', 'key.pem'),
      upload('cert.pem', 'other.pem'),
      upload('nope.pem', 'key.pem'),
    ]);
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.json).toMatchObject({
      source: 'self_signed',
      domains: ['DNS:gen.test', 'IP:127.0.0.2'],
    });
    expect(uploaded.json).toMatchObject({ source: 'upload', common_name: 'cli.test' });
    expect(refused.code).not.toBe(0);
    expect(refused.json).toEqual({ error: 'The private key does not match the certificate', status: 400 });
    expect(missing.json).toMatchObject({
      status: 400,
      error: expect.stringContaining('Cannot read the certificate file'),
    });

    const activated = await runCli(env, 'cert', 'activate', String(uploaded.json.id), '--json');
    expect(activated.json).toMatchObject({ id: uploaded.json.id, is_active: true });
    await waitFor(async () => exported() === pair.cert, 'the export follows the activation');
    const listed = await runCli(env, 'cert', 'list');
    expect(listed.stdout).toMatch(
      new RegExp(`^${uploaded.json.id}\\tcli.test\\tupload\\tDNS:cli.test\\tuntil .+\\tACTIVE$`, 'm'),
    );
    const pem = await runCli(env, 'cert', 'show', String(uploaded.json.id), '--pem');
    expect(pem.stdout).toBe(pair.cert);
  }, 120_000);
});

describe('the ACME challenge route', () => {
  it('answers a pending token with its key authorisation, anything else with 404', async () => {
    const db = server.deps.database.db;
    await db.insert(acmeChallenges).values([
      {
        token: 'tok_live-1',
        keyAuthorization: 'tok_live-1.thumb',
        domain: 'a.test',
        expiresAt: new Date(Date.now() + 60_000),
      },
      {
        token: 'tok_old',
        keyAuthorization: 'tok_old.thumb',
        domain: 'a.test',
        expiresAt: new Date(Date.now() - 1000),
      },
    ]);
    const live = await fetch(`${server.url}/.well-known/acme-challenge/tok_live-1`);
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await live.text()).toBe('tok_live-1.thumb');
    for (const token of ['tok_old', 'unknown', '..%2Fetc']) {
      const res = await fetch(`${server.url}/.well-known/acme-challenge/${token}`);
      expect(res.status).toBe(404);
    }
  });

  it('refuses orders without agreement to the terms, or for names HTTP-01 cannot prove', async () => {
    const a = await admin();
    expect(await trpcRefusal(a.certificates.acmeIssue.mutate({ domains: ['portal.test'] }))).toMatchObject({
      status: 400,
      error: "Issuing needs agreeing to the ACME server's terms of service (--agree-tos)",
    });
    for (const domain of ['*.portal.test', '10.0.0.1', 'localhost']) {
      expect(
        await trpcRefusal(a.certificates.acmeIssue.mutate({ domains: [domain], agreeTos: true })),
      ).toMatchObject({
        status: 400,
        error:
          'Each domain must be a public DNS name (no IP address, no wildcard: HTTP-01 cannot prove those)',
      });
    }
    expect(existsSync(join(server.dataDir, 'certs'))).toBe(true);
    expect(
      await server.deps.database.db.select().from(tlsCertificates).where(eq(tlsCertificates.source, 'acme')),
    ).toEqual([]);
  });
});

const clusterSkip = await clusterSkipReason();
if (clusterSkip) console.warn(`skipping the cluster certificate test: ${clusterSkip}`);

describe.skipIf(clusterSkip !== undefined)('in a cluster', () => {
  it('activating a certificate on one node makes every node serve and export it', async () => {
    const cluster = await startCluster(2, { TLS_PORT: '0' });
    try {
      const [a, b] = cluster.nodes as [RunningServer, RunningServer];
      const pair = opensslPair({ cn: 'cluster.test', san: 'DNS:cluster.test' });
      const stored = await adminCaller(a).certificates.upload({
        certificate: pair.cert,
        key: pair.key,
        activate: true,
      });
      const fingerprintOn = (node: RunningServer) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect(
            { host: '127.0.0.1', port: node.tlsPort!, rejectUnauthorized: false },
            () => {
              resolve(socket.getPeerCertificate().fingerprint256);
              socket.end();
            },
          );
          socket.once('error', reject);
        });
      await waitFor(
        async () => (await fingerprintOn(b)) === stored.fingerprint_sha256,
        'node B serves it',
        10_000,
      );
      expect(await fingerprintOn(a)).toBe(stored.fingerprint_sha256);
      const exportedOn = (node: RunningServer) =>
        readFileSync(join(node.deps.env.DATA_DIR, 'certs', 'fullchain.pem'), 'utf8');
      expect(exportedOn(b)).toBe(pair.cert);
    } finally {
      await cluster.stop();
    }
  });
});
