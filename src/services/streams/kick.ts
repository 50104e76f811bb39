import { internalAuthorization } from './mediamtx';
import { mediaApiUrl } from './reconcile';
import type { StreamDeps } from './types';

// Cutting a publisher off (a regenerated key "stops working at once"): MediaMTX's control API names
// the path's source connection, and its kick endpoint closes it; the not-ready hook then ends the
// session as usual. Best effort: without a reachable API the old session runs until it
// disconnects, and only new publishes with the old key are refused.

/** MediaMTX source types → the API collection that can kick them. */
const KICKABLE: Record<string, string> = {
  rtmpConn: 'rtmpconns',
  rtmpsConn: 'rtmpsconns',
  rtspSession: 'rtspsessions',
  rtspsSession: 'rtspssessions',
  webRTCSession: 'webrtcsessions',
  srtConn: 'srtconns',
};

type PathInfo = { source?: { type?: string; id?: string } | null };

export async function kickPublisher(deps: Pick<StreamDeps, 'env' | 'secretKey' | 'log'>, mediaPath: string) {
  const api = mediaApiUrl(deps.env);
  if (!api) return false;
  const base = api.pathname.replace(/\/+$/, '');
  const headers = { authorization: internalAuthorization(deps.secretKey) };
  try {
    const info = await fetch(new URL(`${base}/v3/paths/get/${mediaPath}`, api), {
      headers,
      signal: AbortSignal.timeout(5_000),
    });
    if (!info.ok) return false;
    const source = ((await info.json()) as PathInfo).source;
    const collection = source?.type ? KICKABLE[source.type] : undefined;
    if (!collection || !source?.id || !/^[A-Za-z0-9-]{1,64}$/.test(source.id)) return false;
    const kicked = await fetch(new URL(`${base}/v3/${collection}/kick/${source.id}`, api), {
      method: 'POST',
      headers,
      signal: AbortSignal.timeout(5_000),
    });
    return kicked.ok;
  } catch (err) {
    deps.log.warn(
      { err: err instanceof Error ? err.message : err },
      'publisher not kicked: MediaMTX API not reachable',
    );
    return false;
  }
}
