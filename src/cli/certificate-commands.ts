import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AppError } from '../core/errors';
import { type CommonOptions, type Execute, leaf, parseWholeNumber } from './command-kit';

// `cert …` (API.md §10 "certificates"; seed 002 "Certificate Management"): upload a PEM pair,
// generate a self-signed one, order one over ACME (Let's Encrypt), list, show, activate, delete.

type Opts = CommonOptions & {
  cert?: string;
  key?: string;
  passphrase?: string;
  name?: string;
  activate?: boolean;
  domain?: string[];
  days?: number;
  email?: string;
  agreeTos?: boolean;
  directory?: string;
  pem?: boolean;
  limit?: number;
};

const collect = (value: string, previous: string[] = []) => [...previous, value];

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new AppError(
      'BAD_REQUEST',
      `Cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
}

type Line = {
  id: number;
  name: string;
  source: string;
  domains: string[];
  not_after: string;
  days_left: number;
  expired: boolean;
  is_active: boolean;
};
const describe = (c: Line) =>
  `${c.id}\t${c.name}\t${c.source}\t${c.domains.join(',')}\tuntil ${c.not_after} (${c.expired ? 'expired' : `${c.days_left} days left`})${c.is_active ? '\tACTIVE' : ''}`;

export function registerCertificateCommands(program: Command, execute: Execute) {
  const cert = program.command('cert').description('TLS certificates: upload, self-signed, ACME, activate');
  leaf(cert, 'list', 'List certificates, newest first').action((o: Opts) =>
    execute(
      o,
      (call) => call('certificates', 'list', undefined),
      (r) => (r.certificates.length === 0 ? 'No certificates' : r.certificates.map(describe).join('\n')),
    ),
  );
  leaf(cert, 'show', 'Show one certificate (--pem: its chain)')
    .argument('<id>', 'certificate id', parseWholeNumber)
    .option('--pem', 'print the PEM chain')
    .action((id: number, o: Opts) =>
      execute(
        o,
        (call) => call('certificates', 'show', { id }),
        (c) =>
          o.pem
            ? c.certificate_pem.trimEnd()
            : `${describe(c)}\nissuer ${c.issuer}\nserial ${c.serial_number}\nsha256 ${c.fingerprint_sha256}`,
      ),
    );
  leaf(cert, 'upload', 'Store a PEM certificate (chain) and its private key')
    .requiredOption('--cert <file>', 'PEM certificate, leaf first, then intermediates')
    .requiredOption('--key <file>', 'PEM private key')
    .option('--passphrase <passphrase>', 'passphrase of an encrypted key')
    .option('--name <name>', 'label (default: the common name)')
    .option('--activate', 'serve it from now on')
    .action((o: Opts) =>
      execute(
        o,
        (call) =>
          call('certificates', 'upload', {
            certificate: readPem(o.cert!, 'certificate'),
            key: readPem(o.key!, 'key'),
            passphrase: o.passphrase,
            name: o.name,
            activate: o.activate ?? false,
          }),
        (c) => `Stored certificate ${describe(c)}`,
      ),
    );
  leaf(cert, 'self-signed', 'Generate a self-signed certificate')
    .requiredOption('--domain <name>', 'host name or IP address (repeat for more)', collect)
    .option('--days <n>', 'validity in days (default 365)', parseWholeNumber)
    .option('--name <name>', 'label (default: the first domain)')
    .option('--activate', 'serve it from now on')
    .action((o: Opts) =>
      execute(
        o,
        (call) =>
          call('certificates', 'selfSigned', {
            domains: o.domain!,
            days: o.days ?? 365,
            name: o.name,
            activate: o.activate ?? false,
          }),
        (c) => `Generated certificate ${describe(c)}`,
      ),
    );
  leaf(cert, 'activate', 'Serve this certificate (on TLS_PORT and in DATA_DIR/certs)')
    .argument('<id>', 'certificate id', parseWholeNumber)
    .action((id: number, o: Opts) =>
      execute(
        o,
        (call) => call('certificates', 'activate', { id }),
        (c) => `Active: ${describe(c)}`,
      ),
    );
  leaf(cert, 'delete', 'Delete a certificate that is not active')
    .argument('<id>', 'certificate id', parseWholeNumber)
    .action((id: number, o: Opts) =>
      execute(
        o,
        (call) => call('certificates', 'delete', { id }),
        () => `Deleted certificate ${id}`,
      ),
    );

  const acme = cert.command('acme').description("Certificates from an ACME CA (Let's Encrypt)");
  leaf(acme, 'issue', 'Order a certificate; the CA must reach this server on port 80 under every name')
    .requiredOption('--domain <name>', 'DNS name (repeat for more)', collect)
    .option('--email <address>', 'contact for expiry notices from the CA')
    .option('--agree-tos', "agree to the ACME server's terms of service (required)")
    .option('--directory <url>', 'ACME directory (default ACME_DIRECTORY_URL: Let’s Encrypt)')
    .option('--no-activate', 'store it without serving it')
    .action((o: Opts) =>
      execute(
        o,
        (call) =>
          call('certificates', 'acmeIssue', {
            domains: o.domain!,
            email: o.email,
            agreeTos: o.agreeTos ?? false,
            directoryUrl: o.directory,
            activate: o.activate ?? true,
          }),
        (r) => `Order ${r.order_id}: issued certificate ${describe(r.certificate)}`,
      ),
    );
  leaf(acme, 'orders', 'Recent ACME orders and why any failed')
    .option('--limit <n>', 'entries (default 20, at most 100)', parseWholeNumber)
    .action((o: Opts) =>
      execute(
        o,
        (call) => call('certificates', 'acmeOrders', { limit: o.limit ?? 20 }),
        (r) =>
          r.orders.length === 0
            ? 'No ACME orders'
            : r.orders
                .map(
                  (x) =>
                    `${x.id}\t${x.created_at}\t${x.domains.join(',')}\t${x.status}${x.renewal ? ' (renewal)' : ''}` +
                    `${x.certificate_id ? `\tcertificate ${x.certificate_id}` : ''}${x.error ? `\t${x.error}` : ''}`,
                )
                .join('\n'),
      ),
    );
}
