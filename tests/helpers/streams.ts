import { api } from './identity';
import type { Json, Person } from './rooms';
import type { TestServer } from './server';

// Streams as their tests drive them: MediaMTX's own requests to Portal's hooks (auth in MediaMTX's
// external-authentication format, runOnReady / runOnNotReady / runOnRead as the example
// docs/mediamtx.yml sends them) and a stream made over REST.

export const HOOK_SECRET = 'test-hook-secret-0123456789abcdef';

export type MediaAuth = {
  user?: string;
  password?: string;
  token?: string;
  ip?: string;
  action: 'publish' | 'read' | 'playback' | 'api' | 'metrics' | 'pprof';
  path: string;
  protocol?: 'rtmp' | 'rtsp' | 'hls' | 'webrtc' | 'srt';
  id?: string | null;
  query?: string;
};

/** Exactly what MediaMTX posts to authHTTPAddress (internal/auth/manager.go). */
export const authBody = (a: MediaAuth) => ({
  ip: a.ip ?? '203.0.113.7',
  user: a.user ?? '',
  password: a.password ?? '',
  token: a.token ?? '',
  action: a.action,
  path: a.path,
  protocol: a.protocol ?? 'rtmp',
  id: a.id ?? null,
  query: a.query ?? '',
});

export function mediamtx(server: () => Pick<TestServer, 'url'>, secret: string | null = HOOK_SECRET) {
  const headers = secret ? { 'x-portal-hook-secret': secret } : undefined;
  return {
    /** authHTTPAddress cannot send headers: the secret rides in the query string. */
    auth: (a: MediaAuth, opts: { secret?: string | null } = {}) => {
      const s = opts.secret === undefined ? secret : opts.secret;
      return api(server(), 'POST', `/api/mediamtx/auth${s ? `?secret=${encodeURIComponent(s)}` : ''}`, {
        body: authBody(a),
      });
    },
    ready: (path: string, extra: Record<string, string> = {}) =>
      api(server(), 'POST', '/api/mediamtx/ready', {
        body: { path },
        ...(headers && { headers: { ...headers, ...extra } }),
      }),
    notReady: (path: string) =>
      api(server(), 'POST', '/api/mediamtx/not-ready', { body: { path }, ...(headers && { headers }) }),
    read: (path: string, readerType: string, readerId: string, hook: 'read' | 'unread' = 'read') =>
      api(server(), 'POST', `/api/mediamtx/${hook}`, {
        body: { path, reader_type: readerType, reader_id: readerId },
        ...(headers && { headers }),
      }),
  };
}

/** A stream owned by `owner`, made over REST. */
export async function makeStream(server: Pick<TestServer, 'url'>, owner: Person, body: Json = {}) {
  const res = await api(server, 'POST', '/api/streams', {
    token: owner.token,
    body: { title: 'Test stream', ...body },
  });
  if (res.status !== 200) throw new Error(`stream not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Json;
}

export const livePath = (key: string) => `live/${key}`;
