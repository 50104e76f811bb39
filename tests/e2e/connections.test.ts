import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpAllTables } from '../helpers/database';
import { api, makeUser, signIn } from '../helpers/identity';
import { startTestServer, type TestServer } from '../helpers/server';
import { newKeyPair } from '../helpers/ssh-server';

// User connections, connection types and SSH keys of API.md §6 over real HTTP: ownership (404 for
// everyone else), secrets sealed at rest and redacted on reads, config merged on update.

const { utils } = ssh2;

const MAX_CONNECTIONS = 6;
const MAX_KEYS = 4;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: {
      RATE_LIMIT_LOGIN: '100000',
      RATE_LIMIT_AUTH: '100000',
      MAX_CONNECTIONS_PER_USER: String(MAX_CONNECTIONS),
      MAX_SSH_KEYS_PER_USER: String(MAX_KEYS),
    },
  });
});
afterAll(() => server?.close());

async function newUser() {
  const { username, password } = await makeUser(server);
  return signIn(server, username, password);
}

type Conn = {
  id: string;
  name: string;
  type: string;
  host: string;
  port: number;
  is_pinned: boolean;
  config: Record<string, unknown>;
};

describe('connection types', () => {
  it('lists every type with its default port, plugin and JSON Schema', async () => {
    const token = await newUser();
    const res = await api(server, 'GET', '/api/connection-types', { token });
    expect(res.status).toBe(200);
    const types = res.body.types as Record<string, Record<string, unknown>>;
    expect(Object.keys(types).sort()).toEqual(
      [
        'database',
        'grafana',
        'home_assistant',
        'http',
        'http_proxy',
        'https',
        'mediamtx',
        'portainer',
        'proxmox',
        'rdp',
        'redis',
        'spice',
        'ssh',
        'stream',
        'tcp_tunnel',
        'vnc',
      ].sort(),
    );
    const ports = Object.fromEntries(Object.entries(types).map(([k, v]) => [k, v.default_port]));
    expect(ports).toEqual({
      ssh: 22,
      vnc: 5900,
      rdp: 3389,
      spice: 5900,
      proxmox: 8006,
      http: 80,
      https: 443,
      http_proxy: 443,
      mediamtx: 8889,
      stream: 8889,
      home_assistant: 8123,
      grafana: 3000,
      portainer: 9443,
      database: 5432,
      redis: 6379,
      tcp_tunnel: null,
    });
    for (const panel of ['home_assistant', 'grafana', 'portainer'])
      expect(types[panel]?.plugin, panel).toBe('http_proxy');
    expect(types.stream?.plugin).toBe('mediamtx');
    expect(types.ssh).toMatchObject({ name: 'SSH Terminal', icon: 'terminal', plugin: 'ssh' });
    const schema = types.ssh!.config_schema as {
      $schema: string;
      type: string;
      properties: Record<string, Record<string, unknown>>;
      required: string[];
    };
    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(schema.type).toBe('object');
    expect(schema.properties.host).toMatchObject({ type: 'string' });
    expect(schema.properties.port).toMatchObject({ type: 'integer', minimum: 1, maximum: 65535 });
    expect(schema.properties.password).toMatchObject({ type: 'string', writeOnly: true });
    expect(schema.properties.private_key).toMatchObject({ writeOnly: true });
    expect(schema.required).toEqual(expect.arrayContaining(['host', 'username']));
    expect((types.tcp_tunnel!.config_schema as { required: string[] }).required).toContain('port');
    expect((types.http_proxy!.config_schema as { properties: object }).properties).toHaveProperty(
      'browser_mode',
    );
    expect((await api(server, 'GET', '/api/connection-types')).status).toBe(401);
  });
});

describe('connections', () => {
  it('has the default Web Browser connection exactly once, even on concurrent first lists', async () => {
    const token = await newUser();
    const lists = await Promise.all(
      Array.from({ length: 5 }, () => api(server, 'GET', '/api/connections', { token })),
    );
    for (const list of lists) expect(list.status).toBe(200);
    const again = await api(server, 'GET', '/api/connections', { token });
    const conns = again.body.connections as Conn[];
    expect(conns).toHaveLength(1);
    expect(conns[0]).toMatchObject({
      name: 'Web Browser',
      type: 'http_proxy',
      port: 443,
      is_pinned: false,
      config: { browser_mode: true, home_url: 'https://duckduckgo.com' },
    });
    expect(conns[0]!.id).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('creates, reads, updates, pins and deletes', async () => {
    const token = await newUser();
    const created = await api(server, 'POST', '/api/connections', {
      token,
      body: {
        name: 'My Home Server',
        type: 'ssh',
        host: '192.168.1.100',
        config: { username: 'admin', auth_method: 'password', password: 's3cret-pass-word' },
      },
    });
    expect(created.status).toBe(200);
    const conn = created.body as unknown as Conn;
    expect(conn).toMatchObject({
      name: 'My Home Server',
      type: 'ssh',
      host: '192.168.1.100',
      port: 22,
      is_pinned: false,
    });
    expect(conn.config).toEqual({
      username: 'admin',
      auth_method: 'password',
      has_password: true,
      has_private_key: false,
      has_passphrase: false,
    });
    expect(JSON.stringify(created.body)).not.toContain('s3cret-pass-word');

    const got = await api(server, 'GET', `/api/connections/${conn.id}`, { token });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);

    // Default ports per type; tcp_tunnel has none.
    const vnc = await api(server, 'POST', '/api/connections', {
      token,
      body: { name: 'Desk', type: 'vnc', host: 'desk.lan' },
    });
    expect(vnc.body.port).toBe(5900);
    const tunnel = await api(server, 'POST', '/api/connections', {
      token,
      body: { name: 'Tun', type: 'tcp_tunnel', host: 'db.lan' },
    });
    expect(tunnel.status).toBe(400);
    expect(tunnel.body).toMatchObject({ error: 'port is required', status: 400 });
    const tunnelOk = await api(server, 'POST', '/api/connections', {
      token,
      body: { name: 'Tun', type: 'tcp_tunnel', host: 'db.lan', port: 15432 },
    });
    expect(tunnelOk.status).toBe(200);
    expect(tunnelOk.body.port).toBe(15432);

    // Validation names the first invalid field.
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: 'ssh', host: 'h', config: { username: 'u' } }, 'name is required'],
      [
        { name: 'x'.repeat(51), type: 'ssh', host: 'h', config: { username: 'u' } },
        'name must be at most 50 characters',
      ],
      [{ name: 'n', type: 'telnet', host: 'h' }, 'type must be one of'],
      [{ name: 'n', type: 'ssh', host: 'h' }, 'config.username is required'],
      [
        { name: 'n', type: 'ssh', host: 'bad host!', config: { username: 'u' } },
        'host contains invalid characters',
      ],
      [
        { name: 'n', type: 'ssh', host: 'h', port: 70000, config: { username: 'u' } },
        'port must be at most 65535',
      ],
      [
        { name: 'n', type: 'ssh', host: 'h', config: { username: 'u', private_key: 'not a key' } },
        'config.private_key is not a readable private key',
      ],
      [{ name: 'n', type: 'redis', host: 'h', config: { db: 99 } }, 'config.db must be at most 15'],
    ];
    for (const [body, message] of cases) {
      const res = await api(server, 'POST', '/api/connections', { token, body });
      expect(res.status, message).toBe(400);
      expect(String(res.body.error)).toContain(message);
    }

    // PUT merges: secrets not sent stay, other fields change, null clears.
    const renamed = await api(server, 'PUT', `/api/connections/${conn.id}`, {
      token,
      body: { name: 'Renamed', port: 2222, config: { username: 'root' } },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({
      name: 'Renamed',
      port: 2222,
      config: { username: 'root', auth_method: 'password', has_password: true },
    });
    const cleared = await api(server, 'PUT', `/api/connections/${conn.id}`, {
      token,
      body: { config: { password: null, auth_method: null } },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.config).toEqual({
      username: 'root',
      has_password: false,
      has_private_key: false,
      has_passphrase: false,
    });
    const invalidUpdate = await api(server, 'PUT', `/api/connections/${conn.id}`, {
      token,
      body: { config: { username: null } },
    });
    expect(invalidUpdate.status).toBe(400);
    expect(invalidUpdate.body.error).toBe('config.username is required');

    // Pin toggles; pinned sort first, then by name.
    const pinned = await api(server, 'POST', `/api/connections/${vnc.body.id}/pin`, { token });
    expect(pinned.body).toEqual({ is_pinned: true });
    const list = await api(server, 'GET', '/api/connections', { token });
    expect((list.body.connections as Conn[]).map((c) => c.name)).toEqual([
      'Desk',
      'Renamed',
      'Tun',
      'Web Browser',
    ]);
    const unpinned = await api(server, 'POST', `/api/connections/${vnc.body.id}/pin`, { token });
    expect(unpinned.body).toEqual({ is_pinned: false });
    const list2 = await api(server, 'GET', '/api/connections', { token });
    expect((list2.body.connections as Conn[]).map((c) => c.name)).toEqual([
      'Desk',
      'Renamed',
      'Tun',
      'Web Browser',
    ]);
    await api(server, 'POST', `/api/connections/${tunnelOk.body.id}/pin`, { token });
    const list3 = await api(server, 'GET', '/api/connections', { token });
    expect((list3.body.connections as Conn[]).map((c) => c.name)).toEqual([
      'Tun',
      'Desk',
      'Renamed',
      'Web Browser',
    ]);

    const deleted = await api(server, 'DELETE', `/api/connections/${vnc.body.id}`, { token });
    expect(deleted.body).toEqual({ success: true });
    const gone = await api(server, 'GET', `/api/connections/${vnc.body.id}`, { token });
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ error: 'Connection not found', status: 404 });
  });

  it('answers 404 "Connection not found" to another user on every route', async () => {
    const owner = await newUser();
    const other = await newUser();
    const created = await api(server, 'POST', '/api/connections', {
      token: owner,
      body: { name: 'Private', type: 'vnc', host: 'vnc.lan', config: { password: 'vnc-pass-123' } },
    });
    const id = String(created.body.id);
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `/api/connections/${id}`],
      ['PUT', `/api/connections/${id}`, { name: 'Mine now' }],
      ['POST', `/api/connections/${id}/pin`],
      ['GET', `/api/connections/${id}/connect`],
      ['DELETE', `/api/connections/${id}`],
    ];
    for (const [method, path, body] of routes) {
      const res = await api(server, method, path, { token: other, ...(body !== undefined && { body }) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({ error: 'Connection not found', status: 404 });
    }
    const list = await api(server, 'GET', '/api/connections', { token: other });
    expect((list.body.connections as Conn[]).map((c) => c.id)).not.toContain(id);
    // Still the owner's, unchanged.
    const mine = await api(server, 'GET', `/api/connections/${id}`, { token: owner });
    expect(mine.body).toMatchObject({ name: 'Private', is_pinned: false });
    expect((await api(server, 'GET', `/api/connections/${id}`)).status).toBe(401);
  });

  it('derives the SSH public key for connect from the stored private key', async () => {
    const token = await newUser();
    const pair = newKeyPair();
    const expectedPublic = pair.public.trim().split(' ').slice(0, 2).join(' ');
    const withKey = await api(server, 'POST', '/api/connections', {
      token,
      body: {
        name: 'Key box',
        type: 'ssh',
        host: '10.0.0.5',
        config: { username: 'me', auth_method: 'key', private_key: pair.private },
      },
    });
    expect(withKey.status).toBe(200);
    expect(withKey.body.config).toMatchObject({ has_private_key: true, has_passphrase: false });
    const info = await api(server, 'GET', `/api/connections/${withKey.body.id}/connect`, { token });
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      connection: withKey.body,
      ssh_public_key: expectedPublic,
      websocket_url: `/ws/user-connection/${withKey.body.id}`,
    });
    expect(info.body.ssh_public_key).toMatch(/^ssh-ed25519 AAAA/);
    expect(JSON.stringify(info.body)).not.toContain('PRIVATE KEY');

    // An encrypted key with its passphrase.
    const locked = newKeyPair('open sesame 42');
    const lockedConn = await api(server, 'POST', '/api/connections', {
      token,
      body: {
        name: 'Locked',
        type: 'ssh',
        host: '10.0.0.6',
        config: { username: 'me', private_key: locked.private, passphrase: 'open sesame 42' },
      },
    });
    expect(lockedConn.status).toBe(200);
    const lockedInfo = await api(server, 'GET', `/api/connections/${lockedConn.body.id}/connect`, { token });
    expect(lockedInfo.body.ssh_public_key).toBe(locked.public.trim().split(' ').slice(0, 2).join(' '));
    const wrong = await api(server, 'POST', '/api/connections', {
      token,
      body: {
        name: 'Wrong',
        type: 'ssh',
        host: '10.0.0.6',
        config: { username: 'me', private_key: locked.private, passphrase: 'nope-nope' },
      },
    });
    expect(wrong.status).toBe(400);

    // Without a key: no ssh_public_key.
    const plain = await api(server, 'POST', '/api/connections', {
      token,
      body: { name: 'Plain', type: 'vnc', host: 'v.lan' },
    });
    const plainInfo = await api(server, 'GET', `/api/connections/${plain.body.id}/connect`, { token });
    expect(plainInfo.body).toEqual({
      connection: plain.body,
      websocket_url: `/ws/user-connection/${plain.body.id}`,
    });
  });
});

describe('ssh keys', () => {
  it('creates (private key once), lists, gets, deletes and prints authorized_keys', async () => {
    const token = await newUser();
    const other = await newUser();
    const ed = await api(server, 'POST', '/api/ssh-keys', { token, body: { name: 'laptop' } });
    expect(ed.status).toBe(200);
    expect(ed.body).toMatchObject({ id: expect.any(Number), name: 'laptop', key_type: 'ed25519' });
    expect(String(ed.body.public_key)).toMatch(/^ssh-ed25519 AAAA[\w+/=]+$/);
    expect(String(ed.body.private_key)).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    const blob = Buffer.from(String(ed.body.public_key).split(' ')[1]!, 'base64');
    expect(ed.body.fingerprint).toBe(
      `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`,
    );
    // The private key matches the public key.
    const parsed = utils.parseKey(String(ed.body.private_key));
    expect(parsed instanceof Error).toBe(false);
    expect(`ssh-ed25519 ${(parsed as { getPublicSSH(): Buffer }).getPublicSSH().toString('base64')}`).toBe(
      ed.body.public_key,
    );

    const rsa = await api(server, 'POST', '/api/ssh-keys', {
      token,
      body: { name: 'build box', key_type: 'rsa' },
    });
    expect(rsa.status).toBe(200);
    expect(String(rsa.body.public_key)).toMatch(/^ssh-rsa AAAA/);
    expect(rsa.body.key_type).toBe('rsa');

    const badType = await api(server, 'POST', '/api/ssh-keys', {
      token,
      body: { name: 'x', key_type: 'dsa' },
    });
    expect(badType.status).toBe(400);
    expect(badType.body.error).toBe('key_type must be one of ed25519, rsa');
    const longName = await api(server, 'POST', '/api/ssh-keys', { token, body: { name: 'x'.repeat(51) } });
    expect(longName.body.error).toBe('name must be at most 50 characters');

    const list = await api(server, 'GET', '/api/ssh-keys', { token });
    expect(list.status).toBe(200);
    const keys = list.body.keys as Array<Record<string, unknown>>;
    expect(keys.map((k) => k.name)).toEqual(['laptop', 'build box']);
    for (const k of keys) expect(k).not.toHaveProperty('private_key');
    expect(JSON.stringify(list.body)).not.toContain('PRIVATE KEY');

    const one = await api(server, 'GET', `/api/ssh-keys/${ed.body.id}`, { token });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ ...ed.body, private_key: undefined, created_at: one.body.created_at });
    expect(one.body).not.toHaveProperty('private_key');

    const authorized = await api(server, 'GET', '/api/ssh-keys/authorized_keys', { token });
    expect(authorized.status).toBe(200);
    expect(authorized.body.authorized_keys).toBe(
      `${ed.body.public_key} laptop\n${rsa.body.public_key} build box\n`,
    );

    // Another user sees none of them.
    expect((await api(server, 'GET', `/api/ssh-keys/${ed.body.id}`, { token: other })).status).toBe(404);
    expect((await api(server, 'DELETE', `/api/ssh-keys/${ed.body.id}`, { token: other })).status).toBe(404);
    expect((await api(server, 'GET', '/api/ssh-keys', { token: other })).body).toEqual({
      keys: [],
      total: 0,
    });
    expect((await api(server, 'GET', '/api/ssh-keys/authorized_keys', { token: other })).body).toEqual({
      authorized_keys: '',
    });

    // Never stored: not in the ssh_keys table (nor anywhere else).
    const table = JSON.stringify(await server.deps.database.query(sql`select * from ssh_keys`));
    expect(table).toContain(String(ed.body.fingerprint));
    const privateBody = (k: string) =>
      k
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'))
        .join('');
    for (const key of [ed.body.private_key, rsa.body.private_key]) {
      expect(table).not.toContain(privateBody(String(key)).slice(0, 64));
      expect(table).not.toContain('PRIVATE KEY');
      expect(
        (await dumpAllTables(server.deps.database)).includes(privateBody(String(key)).slice(0, 64)),
      ).toBe(false);
    }

    const deleted = await api(server, 'DELETE', `/api/ssh-keys/${ed.body.id}`, { token });
    expect(deleted.body).toEqual({ success: true });
    expect((await api(server, 'GET', `/api/ssh-keys/${ed.body.id}`, { token })).body).toMatchObject({
      error: 'SSH key not found',
      status: 404,
    });
    expect((await api(server, 'GET', '/api/ssh-keys/authorized_keys', { token })).body).toEqual({
      authorized_keys: `${rsa.body.public_key} build box\n`,
    });
  });
});

describe('secrets at rest', () => {
  it('stores no connection password, private key, passphrase or token in plaintext', async () => {
    const token = await newUser();
    const pair = newKeyPair('passphrase-at-rest-77');
    const secrets = {
      password: 'connection-password-at-rest-1',
      passphrase: 'passphrase-at-rest-77',
      privateKey: pair.private
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'))
        .join('')
        .slice(0, 64),
      token: 'proxmox-token-at-rest-99',
    };
    const ssh = await api(server, 'POST', '/api/connections', {
      token,
      body: {
        name: 'Sealed',
        type: 'ssh',
        host: 'sealed.lan',
        config: {
          username: 'u',
          password: secrets.password,
          private_key: pair.private,
          passphrase: secrets.passphrase,
        },
      },
    });
    expect(ssh.status).toBe(200);
    const pve = await api(server, 'POST', '/api/connections', {
      token,
      body: { name: 'PVE', type: 'proxmox', host: 'pve.lan', config: { token: secrets.token } },
    });
    expect(pve.body.config).toMatchObject({ has_token: true, has_password: false });
    // Kept through an update that does not send them.
    await api(server, 'PUT', `/api/connections/${ssh.body.id}`, {
      token,
      body: { config: { username: 'v' } },
    });
    const info = await api(server, 'GET', `/api/connections/${ssh.body.id}/connect`, { token });
    expect(info.body.ssh_public_key).toBe(pair.public.trim().split(' ').slice(0, 2).join(' '));
    expect(info.body.connection).toMatchObject({
      config: { username: 'v', has_password: true, has_private_key: true, has_passphrase: true },
    });

    const all = await api(server, 'GET', '/api/connections', { token });
    const one = await api(server, 'GET', `/api/connections/${ssh.body.id}`, { token });
    const put = await api(server, 'PUT', `/api/connections/${ssh.body.id}`, {
      token,
      body: { name: 'Sealed again', config: { password: secrets.password } },
    });
    const bodies = {
      post: ssh.body,
      postToken: pve.body,
      get: one.body,
      put: put.body,
      connect: info.body,
      list: all.body,
    };
    const dump = await dumpAllTables(server.deps.database);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(dump.includes(secret), `${name} appears in the database`).toBe(false);
      for (const [route, body] of Object.entries(bodies))
        expect(JSON.stringify(body).includes(secret), `${name} appears in the ${route} response`).toBe(false);
    }
    expect(JSON.stringify(bodies)).not.toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(dump).toMatch(/"password":"v1\.[0-9a-f]{8}\./);
  });
});

describe('per-user caps and pages', () => {
  it('caps connections (the default browser aside) and pages the list, pinned first', async () => {
    const token = await newUser();
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const res = await api(server, 'POST', '/api/connections', {
        token,
        body: { name: `c${i}`, type: 'vnc', host: 'desk.lan' },
      });
      expect(res.status).toBe(200);
    }
    const over = await api(server, 'POST', '/api/connections', {
      token,
      body: { name: 'one more', type: 'vnc', host: 'desk.lan' },
    });
    expect(over.status).toBe(403);
    expect(over.body).toMatchObject({
      error: `You can have at most ${MAX_CONNECTIONS} connections`,
      reason: 'limit_reached',
      status: 403,
    });
    const all = await api(server, 'GET', '/api/connections', { token });
    const names = (all.body.connections as Conn[]).map((c) => c.name);
    expect(all.body.total).toBe(MAX_CONNECTIONS + 1);
    await api(server, 'POST', `/api/connections/${(all.body.connections as Conn[])[3]!.id}/pin`, { token });
    const first = await api(server, 'GET', '/api/connections?limit=2', { token });
    const second = await api(server, 'GET', '/api/connections?limit=2&offset=2', { token });
    expect((first.body.connections as Conn[]).map((c) => c.name)).toEqual([names[3], names[0]]);
    expect((second.body.connections as Conn[]).map((c) => c.name)).toEqual([names[1], names[2]]);
    expect(first.body.total).toBe(MAX_CONNECTIONS + 1);
    const bad = await api(server, 'GET', '/api/connections?limit=0', { token });
    expect(bad.status).toBe(400);
    expect((await api(server, 'GET', '/api/connections?limit=201', { token })).status).toBe(400);
  });

  it('caps SSH keys and pages them', async () => {
    const token = await newUser();
    for (let i = 0; i < MAX_KEYS; i++) {
      const res = await api(server, 'POST', '/api/ssh-keys', { token, body: { name: `k${i}` } });
      expect(res.status).toBe(200);
    }
    const over = await api(server, 'POST', '/api/ssh-keys', { token, body: { name: 'extra' } });
    expect(over.body).toMatchObject({ error: `You can have at most ${MAX_KEYS} SSH keys`, status: 403 });
    const page = await api(server, 'GET', '/api/ssh-keys?limit=1&offset=1', { token });
    expect(page.body.total).toBe(MAX_KEYS);
    expect((page.body.keys as Array<{ name: string }>).map((k) => k.name)).toEqual(['k1']);
  });
});
