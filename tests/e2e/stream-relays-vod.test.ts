import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecretKey } from '../../src/core/secret-key';
import { streams } from '../../src/db/schema';
import { inviteCodeFor } from '../../src/services/auth/invite-code';
import { readPidRecords } from '../../src/services/processes/pid-records';
import { markStreamNotReady, markStreamReady } from '../../src/services/streams/live-state';
import { createStream } from '../../src/services/streams/streams';
import type { StreamDeps } from '../../src/services/streams/types';
import { createTestDatabaseUrl, dumpAllTables } from '../helpers/database';
import { makeTempDir, removeDir } from '../helpers/env';
import { eventually } from '../helpers/eventually';
import { api, makeUser, signIn } from '../helpers/identity';
import {
  FFMPEG,
  ffmpegMissing,
  type HlsOrigin,
  type RtmpSink,
  startHlsOrigin,
  startRtmpSink,
} from '../helpers/media';
import { NO_REQUEST_LIMITS, startTestServer, type TestServer } from '../helpers/server';
import { type SpawnedServer, spawnServer } from '../helpers/spawn';
import { newKeyPair, type SshTestServer, startSshServer } from '../helpers/ssh-server';

// Relays and VOD recording end to end with real peers: an ffmpeg test stream served as HLS stands
// in for MediaMTX, an ffmpeg RTMP server is the relay destination, an ssh2 SFTP server is the VOD
// storage. Go live → is_live 1 → the destination receives data → chunks appear on SFTP → the
// stream ends → is_live 2 → 0 with every chunk offloaded; plus the relay API's rejections.

const missing = ffmpegMissing();
if (missing) console.warn(missing);

const SSH_USER = 'vods';
const SSH_PASSWORD = 'stream-media-sftp-pw';
const RELAY_KEY = 'relay-dest-key';

let server: TestServer;
let origin: HlsOrigin;
let sink: RtmpSink;
let ssh: SshTestServer;
let work: string;
let sftpRoot: string;
let token: string;
let userId: number;
let username: string;

const streamDeps = (): StreamDeps => ({ ...server.deps, db: server.deps.database.db });
const urls = {
  base: 'http://portal.test',
  rtmps: 'rtmps://portal.test:1936/live',
  rtmp: 'rtmp://portal.test:1935/live',
};

async function newStream(title: string, owner = { userId, username }) {
  const view = (await createStream(streamDeps(), { ...owner, level: 0 }, { title }, urls)) as unknown as {
    id: number;
    stream_key: string;
  };
  return { id: view.id, key: view.stream_key, path: `live/${view.stream_key}` };
}

const isLive = async (id: number) =>
  (await server.deps.database.db.select({ v: streams.isLive }).from(streams).where(eq(streams.id, id)))[0]?.v;

function remoteChunks(title: string) {
  const base = join(sftpRoot, 'vods', title);
  if (!fs.existsSync(base)) return [];
  return fs
    .readdirSync(base)
    .flatMap((session) =>
      fs.readdirSync(join(base, session)).map((name) => ({ session, name, path: join(base, session, name) })),
    );
}

describe.skipIf(missing !== null)('stream relays and VOD recording (real ffmpeg)', () => {
  beforeAll(async () => {
    work = makeTempDir('portal-media-');
    fs.mkdirSync(join(work, 'hls'));
    origin = await startHlsOrigin(join(work, 'hls'));
    sink = await startRtmpSink(join(work, 'relayed.flv'), RELAY_KEY);
    sftpRoot = join(work, 'sftp');
    fs.mkdirSync(join(sftpRoot, 'vods'), { recursive: true });
    ssh = await startSshServer({
      root: sftpRoot,
      username: SSH_USER,
      password: SSH_PASSWORD,
      publicKey: newKeyPair().public,
    });
    server = await startTestServer({
      env: {
        ...NO_REQUEST_LIMITS,
        MEDIAMTX_URL: origin.url,
        MEDIA_READ_PROTOCOL: 'hls',
        VOD_CHUNK_SECONDS: '2',
        RELAY_ALLOW_PRIVATE: 'true',
        FFMPEG_PATH: FFMPEG,
      },
    });
    const made = await makeUser(server);
    userId = made.user.id;
    username = made.username;
    token = await signIn(server, made.username, made.password);
    const put = await api(server, 'PUT', '/api/vod/storage', {
      token,
      body: {
        host: '127.0.0.1',
        port: ssh.port,
        username: SSH_USER,
        password: SSH_PASSWORD,
        remote_path: '/vods',
      },
    });
    expect(put.status).toBe(200);
    // The origin has a playlist before anyone reads it.
    await eventually(
      () => (fs.existsSync(join(work, 'hls', 'index.m3u8')) ? true : undefined),
      'HLS playlist',
    );
  });

  afterAll(async () => {
    await server?.close();
    await sink?.close();
    await origin?.close();
    await ssh?.close();
    if (work) removeDir(work);
  });

  it('relays while live, records chunks to SFTP, and holds is_live at 2 until every chunk is offloaded', {
    timeout: 180_000,
  }, async () => {
    const stream = await newStream('Media Test');
    const relay = await api(server, 'POST', `/api/streams/${stream.id}/relays`, {
      token,
      body: { platform: 'custom', name: 'Sink', rtmp_url: sink.url, stream_key: RELAY_KEY },
    });
    expect(relay.status).toBe(200);
    expect(relay.body).toMatchObject({
      platform: 'custom',
      has_stream_key: true,
      enabled: true,
      status: 'idle',
    });
    expect(JSON.stringify(relay.body)).not.toContain(RELAY_KEY);
    const disabled = await api(server, 'POST', `/api/streams/${stream.id}/relays`, {
      token,
      body: {
        platform: 'twitch',
        name: 'Off',
        rtmp_url: 'rtmp://127.0.0.1:1/app',
        stream_key: 'k',
        enabled: false,
      },
    });
    expect(disabled.status).toBe(200);

    expect((await markStreamReady(streamDeps(), stream.path)).is_live).toBe(1);
    expect(await isLive(stream.id)).toBe(1);

    // The destination receives the stream, and the owner sees the relay running.
    await eventually(() => (sink.bytes() > 10_000 ? true : undefined), 'relayed bytes at the RTMP sink');
    await eventually(async () => {
      const list = await api(server, 'GET', `/api/streams/${stream.id}/relays`, { token });
      const [first, second] = list.body.relays as Array<{ status: string }>;
      return first?.status === 'running' && second?.status === 'idle' ? true : undefined;
    }, 'relay status running');

    // Finished chunks reach the storage in the seed's layout while the stream is still live.
    const first = await eventually(() => {
      const found = remoteChunks('Media Test').filter((c) => /^chunk_\d{3}\.mkv$/.test(c.name));
      return found.length >= 2 ? found : undefined;
    }, 'two chunks on SFTP');
    expect(first[0]?.session).toMatch(/^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$/);
    expect(await isLive(stream.id)).toBe(1);
    const listed = await api(server, 'GET', '/api/vod/files?sort=name&order=asc', { token });
    expect((listed.body.files as Array<{ name: string }>)[0]?.name).toMatch(
      /^Media Test\/\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\/chunk_000\.mkv$/,
    );

    // The end: encoding (2) while the last chunk is written and offloaded, then offline (0).
    expect((await markStreamNotReady(streamDeps(), stream.path)).is_live).toBe(2);
    await eventually(async () => ((await isLive(stream.id)) === 0 ? true : undefined), 'is_live 0');

    const chunks = remoteChunks('Media Test');
    expect(chunks.every((c) => /^chunk_\d{3}\.mkv$/.test(c.name))).toBe(true);
    const indexes = chunks.map((c) => Number(c.name.slice(6, 9))).sort((a, b) => a - b);
    expect(indexes).toEqual(indexes.map((_, i) => i));
    expect(indexes.length).toBeGreaterThanOrEqual(2);
    // Every chunk is a readable Matroska file.
    for (const c of chunks) {
      const head = fs.readFileSync(c.path).subarray(0, 4);
      expect(head.equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3])), c.name).toBe(true);
      const probe = spawnSync(FFMPEG, ['-v', 'error', '-i', c.path, '-f', 'null', '-'], { encoding: 'utf8' });
      expect(probe.status, `${c.name}: ${probe.stderr}`).toBe(0);
    }
    // Nothing left locally, no process left running, the relay back to idle.
    expect(fs.readdirSync(join(server.dataDir, 'vod'))).toEqual([]);
    await eventually(() =>
      readPidRecords(join(server.dataDir, 'processes')).length === 0 ? true : undefined,
    );
    await eventually(async () => {
      const list = await api(server, 'GET', `/api/streams/${stream.id}/relays`, { token });
      return (list.body.relays as Array<{ status: string }>).every((r) => r.status === 'idle')
        ? true
        : undefined;
    }, 'relays idle');
  });

  it('restarts a killed relay process, and stops a relay deleted while live', {
    timeout: 180_000,
  }, async () => {
    const stream = await newStream('Relay Restart');
    // `ffmpeg -listen 1` takes one publisher: a fresh sink for this test.
    await sink.close();
    sink = await startRtmpSink(join(work, 'relayed-2.flv'), RELAY_KEY);
    const relay = await api(server, 'POST', `/api/streams/${stream.id}/relays`, {
      token,
      body: { platform: 'custom', name: 'Sink', rtmp_url: sink.url, stream_key: RELAY_KEY },
    });
    await markStreamReady(streamDeps(), stream.path);
    const registry = join(server.dataDir, 'processes');
    const relayPid = () => readPidRecords(registry).find((r) => r.meta.kind === 'relay')?.pid;
    const firstPid = await eventually(relayPid, 'relay process');
    process.kill(firstPid, 'SIGKILL');
    const secondPid = await eventually(() => {
      const pid = relayPid();
      return pid && pid !== firstPid ? pid : undefined;
    }, 'restarted relay');
    const restarted = await eventually(async () => {
      const list = await api(server, 'GET', `/api/streams/${stream.id}/relays`, { token });
      const r = (list.body.relays as Array<{ status: string; last_error: string | null }>)[0];
      return r?.status === 'running' && r.last_error ? r : undefined;
    }, 'relay running again with the last error shown');
    expect(restarted.last_error).toBeTruthy();
    expect(restarted.last_error).not.toContain(RELAY_KEY);

    const del = await api(server, 'DELETE', `/api/streams/${stream.id}/relays/${relay.body.id}`, { token });
    expect(del.body).toEqual({ success: true });
    await eventually(() => (relayPid() === undefined ? true : undefined), 'relay process stopped');
    expect(() => process.kill(secondPid, 0)).toThrow();
    await markStreamNotReady(streamDeps(), stream.path);
    await eventually(async () => ((await isLive(stream.id)) === 0 ? true : undefined), 'is_live 0');
  });

  it('refuses an 11th relay, non-RTMP URLs, bad input and other users', async () => {
    const stream = await newStream('Relay Limits');
    const body = (i: number) => ({
      platform: 'custom',
      name: `R${i}`,
      rtmp_url: 'rtmps://relay.example/app',
      stream_key: `key-${i}`,
    });
    for (let i = 0; i < 10; i++) {
      const res = await api(server, 'POST', `/api/streams/${stream.id}/relays`, { token, body: body(i) });
      expect(res.status, `relay ${i}`).toBe(200);
    }
    const eleventh = await api(server, 'POST', `/api/streams/${stream.id}/relays`, { token, body: body(10) });
    expect(eleventh.status).toBe(403);
    expect(eleventh.body.error).toBe('A stream can have at most 10 relays');

    const other = await newStream('Relay Rules');
    const bad: Array<[Record<string, unknown>, string]> = [
      [
        { ...body(0), rtmp_url: 'http://relay.example/app' },
        'rtmp_url must start with rtmp:// or rtmps:// and name a host',
      ],
      [{ ...body(0), rtmp_url: 'rtmp://' }, 'rtmp_url must start with rtmp:// or rtmps:// and name a host'],
      [{ ...body(0), platform: 'myspace' }, 'platform must be one of twitch, youtube, kick, portal, custom'],
      [{ ...body(0), stream_key: undefined }, 'stream_key is required'],
      [{ ...body(0), name: '' }, 'name is required'],
      [{ ...body(0), name: 'x'.repeat(51) }, 'name must be at most 50 characters'],
    ];
    for (const [b, error] of bad) {
      const res = await api(server, 'POST', `/api/streams/${other.id}/relays`, { token, body: b });
      expect(res.status, error).toBe(400);
      expect(res.body.error).toBe(error);
    }
    const created = await api(server, 'POST', `/api/streams/${other.id}/relays`, { token, body: body(1) });
    const relayId = created.body.id as number;
    const upd = await api(server, 'PUT', `/api/streams/${other.id}/relays/${relayId}`, {
      token,
      body: { rtmp_url: 'ftp://x/y' },
    });
    expect(upd.status).toBe(400);
    const renamed = await api(server, 'PUT', `/api/streams/${other.id}/relays/${relayId}`, {
      token,
      body: { name: 'Renamed', enabled: false },
    });
    expect(renamed.body).toMatchObject({
      name: 'Renamed',
      enabled: false,
      has_stream_key: true,
      rtmp_url: 'rtmps://relay.example/app',
    });

    // Someone else: their streams and relays do not exist for them.
    const stranger = await makeUser(server);
    const strangerToken = await signIn(server, stranger.username, stranger.password);
    for (const [method, path, b] of [
      ['GET', `/api/streams/${other.id}/relays`],
      ['POST', `/api/streams/${other.id}/relays`, body(2)],
      ['PUT', `/api/streams/${other.id}/relays/${relayId}`, { name: 'x' }],
      ['DELETE', `/api/streams/${other.id}/relays/${relayId}`],
    ] as const) {
      const res = await api(server, method, path, { token: strangerToken, ...(b && { body: b }) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    // A relay id of another stream of the owner is 404 too.
    expect(
      (await api(server, 'DELETE', `/api/streams/${stream.id}/relays/${relayId}`, { token })).status,
    ).toBe(404);

    const platforms = await api(server, 'GET', '/api/relay-platforms', { token });
    expect(platforms.body.platforms).toContainEqual({
      id: 'twitch',
      name: 'Twitch',
      default_url: 'rtmp://live.twitch.tv/app',
    });
    expect((platforms.body.platforms as unknown[]).length).toBe(5);
  });

  it('keeps relay keys, relay URLs and the SFTP password out of the database in plaintext', async () => {
    const dump = await dumpAllTables(server.deps.database);
    expect(dump).toContain('stream_relays');
    for (const secret of [RELAY_KEY, 'key-3', SSH_PASSWORD, 'relay.example'])
      expect(dump).not.toContain(secret);
  });

  it('leaves no orphan ffmpeg after a Portal crash: the next start kills it and resumes the relay', {
    timeout: 240_000,
  }, async () => {
    await sink.close();
    sink = await startRtmpSink(join(work, 'relayed-3.flv'), RELAY_KEY);
    const dataDir = makeTempDir('portal-crash-');
    const db = await createTestDatabaseUrl();
    const secret = 'stream-media-crash-test-secret-key-0123456789';
    const env = {
      DATA_DIR: dataDir,
      DATABASE_URL: db.url,
      PORTAL_SECRET_KEY: secret,
      MEDIAMTX_URL: origin.url,
      MEDIA_READ_PROTOCOL: 'hls',
      RELAY_ALLOW_PRIVATE: 'true',
      FFMPEG_PATH: FFMPEG,
      ...NO_REQUEST_LIMITS,
    };
    let portal: SpawnedServer | undefined;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const relayPid = () =>
      readPidRecords(join(dataDir, 'processes')).find((r) => r.meta.kind === 'relay')?.pid;
    try {
      portal = await spawnServer(env);
      const p = { url: portal.url };
      const invite = inviteCodeFor(loadSecretKey(secret, dataDir).key);
      const reg = await api(p, 'POST', '/api/register', {
        body: { username: 'crash_owner', password: 'crash owner password', invite_code: invite },
      });
      expect(reg.status, JSON.stringify(reg.body)).toBe(200);
      const login = await api(p, 'POST', '/api/token', {
        body: { username: 'crash_owner', password: 'crash owner password' },
      });
      const t = login.body.token as string;
      const created = await api(p, 'POST', '/api/streams', { token: t, body: { title: 'Crash' } });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      const id = created.body.id as number;
      const key = created.body.stream_key as string;
      await api(p, 'POST', `/api/streams/${id}/relays`, {
        token: t,
        body: { platform: 'custom', name: 'Sink', rtmp_url: sink.url, stream_key: RELAY_KEY },
      });
      const ready = await api(p, 'POST', '/api/mediamtx/ready', { body: { path: `live/${key}` } });
      expect(ready.status, JSON.stringify(ready.body)).toBe(200);
      const orphan = await eventually(relayPid, 'relay ffmpeg');
      await eventually(() => (sink.bytes() > 0 ? true : undefined), 'relayed bytes');

      // A crash: Portal dies at once, its ffmpeg (own process group) does not go with it.
      await portal.kill('SIGKILL');
      portal = undefined;

      portal = await spawnServer(env);
      await eventually(() => (alive(orphan) ? undefined : true), 'the orphan killed at start-up');
      // The sink takes one publisher and ended with the orphan: a fresh one on the same address
      // shows the resumed relay delivering (it retries with backoff until the sink is back).
      await sink.close();
      sink = await startRtmpSink(join(work, 'relayed-4.flv'), RELAY_KEY, Number(new URL(sink.url).port));
      const resumed = await eventually(() => {
        const pid = relayPid();
        return pid && pid !== orphan ? pid : undefined;
      }, 'the relay resumed for the still-live stream');
      await eventually(() => (sink.bytes() > 0 ? true : undefined), 'bytes from the resumed relay');

      // A clean stop takes every ffmpeg with it (the relay may have been restarted since).
      const running = [resumed, relayPid()].filter((pid): pid is number => pid !== undefined);
      await portal.kill('SIGTERM');
      portal = undefined;
      await eventually(() => (running.some(alive) ? undefined : true), 'relay stopped with Portal');
    } finally {
      if (portal) await portal.kill('SIGKILL');
      const leftover = relayPid();
      if (leftover && alive(leftover)) process.kill(-leftover, 'SIGKILL');
      await db.drop();
      removeDir(dataDir);
    }
  });
});
