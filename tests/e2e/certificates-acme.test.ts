import { connect } from 'node:tls';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acmeAccounts, acmeChallenges, acmeOrders } from '../../src/db/schema';
import { renewDueCertificates } from '../../src/services/certificates/renewal';
import { trpcAs, trpcRefusal } from '../helpers/admin-http';
import { type Pebble, pebbleSkipReason, preparePebble, startPebble } from '../helpers/pebble';
import { waitFor } from '../helpers/portal-client';
import { roomKit } from '../helpers/rooms';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';

// ACME issuance end to end against Let's Encrypt's test server (pebble, from Debian) on loopback:
// account creation, the order, HTTP-01 validation of Portal's /.well-known/acme-challenge/ by the
// CA (names resolve to 127.0.0.1 in pebble's mock DNS, and pebble connects to the Portal test
// server's port instead of 80), finalisation, the certificate stored, activated and served on
// TLS_PORT; a failed validation recorded on its order; renewal with the stored account.

const skipReason = pebbleSkipReason();
if (skipReason) console.warn(`Skipping the ACME tests: ${skipReason}`);

let server: TestServer;
let pebble: Pebble;
const { person } = roomKit(() => server);

beforeAll(async () => {
  if (skipReason) return;
  const prepared = await preparePebble();
  server = await startTestServer({
    env: {
      ...NO_REQUEST_LIMITS,
      TLS_PORT: '0',
      ACME_DIRECTORY_URL: prepared.directoryUrl,
      ACME_CA_FILE: prepared.caFile,
    },
  });
  pebble = await startPebble(prepared, server.port);
}, 60_000);
afterAll(async () => {
  await server?.close();
  await pebble?.close();
});

const served = () =>
  new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: server.tlsPort!, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });

describe.skipIf(skipReason !== undefined)('ACME issuance', () => {
  it('creates the account, proves the names over HTTP-01, stores, activates and serves the certificate', async () => {
    const admin = trpcAs(server, (await person(2)).token).admin;
    const issued = await admin.certificates.acmeIssue.mutate({
      domains: ['portal.test', 'www.portal.test'],
      email: 'ops@portal.test',
      agreeTos: true,
    });
    expect(issued.certificate).toMatchObject({
      source: 'acme',
      domains: ['DNS:portal.test', 'DNS:www.portal.test'],
      is_active: true,
      expired: false,
    });
    expect(issued.certificate.issuer).toMatch(/Pebble/);
    await waitFor(async () => (await served()) === issued.certificate.fingerprint_sha256, 'HTTPS serves it');

    const db = server.deps.database.db;
    const [order] = await db.select().from(acmeOrders).where(eq(acmeOrders.id, issued.order_id));
    expect(order).toMatchObject({
      status: 'valid',
      certificateId: issued.certificate.id,
      error: null,
      renewal: false,
    });
    const [account] = await db.select().from(acmeAccounts);
    expect(account).toMatchObject({ email: 'ops@portal.test', directoryUrl: pebble.directoryUrl });
    expect(account!.accountUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    expect(account!.accountKey).not.toContain('PRIVATE KEY');
    // Challenges are gone once the order is done.
    expect(await db.select().from(acmeChallenges)).toEqual([]);

    const orders = await admin.certificates.acmeOrders.query({ limit: 5 });
    expect(orders.orders[0]).toMatchObject({
      id: issued.order_id,
      status: 'valid',
      domains: ['portal.test', 'www.portal.test'],
    });
  }, 120_000);

  it('records a failed validation on its order and reports it', async () => {
    // The CA will look for the challenge on an address where Portal does not listen.
    await pebble.setAddress('elsewhere.test', '127.0.0.2');
    const admin = trpcAs(server, (await person(2)).token).admin;
    const refusal = await trpcRefusal(
      admin.certificates.acmeIssue.mutate({
        domains: ['elsewhere.test'],
        email: 'ops@portal.test',
        agreeTos: true,
      }),
    );
    expect(refusal).toMatchObject({ status: 502, error: expect.stringMatching(/^The ACME order failed: /) });
    const [order] = await server.deps.database.db
      .select()
      .from(acmeOrders)
      .where(eq(acmeOrders.id, refusal.order_id as number));
    expect(order).toMatchObject({ status: 'invalid', certificateId: null });
    expect(order!.error).toBeTruthy();
    expect(await server.deps.database.db.select().from(acmeChallenges)).toEqual([]);
  }, 120_000);

  it('renews the active ACME certificate when it nears expiry, with the stored account', async () => {
    const admin = trpcAs(server, (await person(2)).token).admin;
    const active = (await admin.certificates.list.query()).certificates.find((c) => c.is_active)!;
    expect(active.source).toBe('acme');
    // Nothing is due today.
    const deps = {
      db: server.deps.database.db,
      box: server.deps.secretBox,
      env: server.deps.env,
      log: server.deps.log,
    };
    expect(await renewDueCertificates(deps)).toEqual({ renewed: [] });
    const later = new Date(new Date(active.not_after).getTime() - 86_400_000);
    const { renewed } = await renewDueCertificates({ ...deps, now: later });
    expect(renewed).toHaveLength(1);
    const after = (await admin.certificates.list.query()).certificates;
    expect(after.find((c) => c.is_active)).toMatchObject({
      id: renewed[0],
      source: 'acme',
      domains: active.domains,
    });
    const [order] = (await admin.certificates.acmeOrders.query({ limit: 1 })).orders;
    expect(order).toMatchObject({ status: 'valid', renewal: true, created_by: 'system' });
  }, 120_000);
});
