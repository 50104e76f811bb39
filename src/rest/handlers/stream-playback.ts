import { type Request, type Response, Router } from 'express';
import { AppError } from '../../core/errors';
import type { AppDeps } from '../../deps';
import { internalAuthorization } from '../../services/streams/mediamtx';
import { hlsUpstream, whepUpstream, whipUpstream } from '../../services/streams/playback';
import { HLS_VIEWER_WINDOW_MS, markViewer, viewerIdOf } from '../../services/streams/viewers';
import { proxyMedia, readSmallBody } from '../media-proxy';
import { sendError } from '../middleware/error-body';
import { optionalStreamUser, param, streamDepsOf } from './stream-caller';

// The playback proxy of seed 002 ("All stream traffic routes through Portal on port 443"):
//   GET  /api/stream/{key}/hls/{file}                HLS playlists and segments, streamed through
//   POST /api/stream/{key}/webrtc/whep|whip          the SDP offer → MediaMTX's answer (201)
//   PATCH/DELETE /api/stream/{key}/webrtc/whep|whip/{session}   trickle ICE, hang up
//   OPTIONS /api/stream/{key}/webrtc/whep|whip       ICE servers (Link headers)
// The key in the URL is the playback key (or the publish key); MediaMTX's paths, which hold the
// publish key, never reach the client: Location headers are rewritten to these URLs.

const MEDIA = 'MEDIA' as const;
export const streamPlaybackRoutes = [
  { method: 'GET', path: '/api/stream/{key}/hls/{file}', tier: MEDIA },
  ...(['whep', 'whip'] as const).flatMap((kind) => [
    { method: 'POST', path: `/api/stream/{key}/webrtc/${kind}`, tier: MEDIA },
    { method: 'OPTIONS', path: `/api/stream/{key}/webrtc/${kind}`, tier: MEDIA },
    { method: 'PATCH', path: `/api/stream/{key}/webrtc/${kind}/{session}`, tier: MEDIA },
    { method: 'DELETE', path: `/api/stream/{key}/webrtc/${kind}/{session}`, tier: MEDIA },
  ]),
] as const;

const SDP_MAX_BYTES = 256 * 1024;
const HLS_HEADERS = ['content-type', 'content-length', 'cache-control', 'last-modified'] as const;
const WEBRTC_HEADERS = ['content-type', 'content-length', 'etag', 'link', 'accept-patch'] as const;

/** LL-HLS blocking reloads and delta updates (`_HLS_msn`, `_HLS_part`, `_HLS_skip`) only. */
function hlsQuery(req: Request) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(req.query)) {
    if (/^_HLS_[a-z]{1,8}$/.test(name) && typeof value === 'string' && /^[A-Za-z0-9]{1,16}$/.test(value))
      params.set(name, value);
  }
  return params.toString();
}

function requireContentType(req: Request, expected: string) {
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== expected) throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${expected}`);
}

export function streamPlaybackRouter(deps: AppDeps) {
  const router = Router();
  const authorization = internalAuthorization(deps.secretKey);

  router.get('/api/stream/:key/hls/:file', async (req, res) => {
    try {
      const user = optionalStreamUser(res);
      const sdeps = streamDepsOf(deps, res);
      const { stream, url } = await hlsUpstream(
        sdeps,
        param(req, 'key'),
        param(req, 'file'),
        user?.userId ?? null,
      );
      url.search = hlsQuery(req);
      if (url.pathname.endsWith('.m3u8')) {
        const viewer = viewerIdOf({
          userId: user?.userId,
          ip: req.ip ?? '',
          userAgent: req.get('user-agent'),
        });
        void markViewer(sdeps, stream.id, viewer, HLS_VIEWER_WINDOW_MS);
      }
      await proxyMedia(req, res, {
        url,
        method: 'GET',
        authorization,
        passHeaders: HLS_HEADERS,
        headersTimeoutMs: 30_000,
      });
    } catch (err) {
      sendError(res, err);
    }
  });

  for (const kind of ['whep', 'whip'] as const) {
    const upstreamOf = kind === 'whep' ? whepUpstream : whipUpstream;
    const base = `/api/stream/:key/webrtc/${kind}`;
    /** MediaMTX's session resource `…/whep/<id>` → the same session under this key's URL. */
    const rewriteLocation = (req: Request) => (location: string) => {
      const session = /\/(?:whep|whip)\/([A-Za-z0-9-]{1,64})\/?$/.exec(location)?.[1];
      return session
        ? `/api/stream/${encodeURIComponent(param(req, 'key'))}/webrtc/${kind}/${session}`
        : undefined;
    };

    /** MediaMTX's URL for this key (and session), once the caller may use it. */
    const target = async (req: Request, res: Response, session?: string) => {
      const user = optionalStreamUser(res);
      const sdeps = streamDepsOf(deps, res);
      return (await upstreamOf(sdeps, param(req, 'key'), user?.userId ?? null, session)).url;
    };

    router.options(base, async (req, res) => {
      try {
        const url = await target(req, res);
        await proxyMedia(req, res, { url, method: 'OPTIONS', authorization, passHeaders: WEBRTC_HEADERS });
      } catch (err) {
        sendError(res, err);
      }
    });

    router.post(base, async (req, res) => {
      try {
        requireContentType(req, 'application/sdp');
        const url = await target(req, res);
        const body = await readSmallBody(req, SDP_MAX_BYTES);
        await proxyMedia(req, res, {
          url,
          method: 'POST',
          authorization,
          headers: { 'content-type': 'application/sdp' },
          body,
          passHeaders: WEBRTC_HEADERS,
          rewriteLocation: rewriteLocation(req),
        });
      } catch (err) {
        refuse(req, res, err);
      }
    });

    router.patch(`${base}/:session`, async (req, res) => {
      try {
        requireContentType(req, 'application/trickle-ice-sdpfrag');
        const url = await target(req, res, param(req, 'session'));
        const body = await readSmallBody(req, SDP_MAX_BYTES);
        const ifMatch = req.get('if-match');
        await proxyMedia(req, res, {
          url,
          method: 'PATCH',
          authorization,
          headers: {
            'content-type': 'application/trickle-ice-sdpfrag',
            ...(ifMatch && { 'if-match': ifMatch }),
          },
          body,
          passHeaders: WEBRTC_HEADERS,
        });
      } catch (err) {
        refuse(req, res, err);
      }
    });

    router.delete(`${base}/:session`, async (req, res) => {
      try {
        const url = await target(req, res, param(req, 'session'));
        await proxyMedia(req, res, { url, method: 'DELETE', authorization, passHeaders: WEBRTC_HEADERS });
      } catch (err) {
        sendError(res, err);
      }
    });
  }
  return router;
}

/** A refused body is not worth receiving: answer, close the connection, discard the rest. */
function refuse(req: Request, res: Response, err: unknown) {
  if (!req.complete) res.setHeader('Connection', 'close');
  sendError(res, err);
  req.resume();
}
