import type { LiveSession } from '../streams/lifecycle';
import { internalPassword } from '../streams/mediamtx';

// What the long-running ffmpegs (relays, recording) share: quiet logs with errors on stderr,
// machine-readable progress on stdout (the supervisor's proof of life), and the live stream read
// from MediaMTX with Portal's own credentials (RTSP over TCP, or HLS).

export const ffmpegBaseArgs = () => ['-hide_banner', '-nostdin', '-loglevel', 'error', '-progress', 'pipe:1'];

export function mediaInputArgs(session: Pick<LiveSession, 'readUrl'>, protocol: 'rtsp' | 'hls') {
  return protocol === 'rtsp'
    ? ['-rtsp_transport', 'tcp', '-i', session.readUrl.rtsp]
    : ['-i', session.readUrl.hls];
}

/** Texts of the read side that must never reach a status or a log: the path holds the publish key. */
export function readSecrets(session: Pick<LiveSession, 'mediaPath' | 'readUrl'>, secretKey: Buffer) {
  const key = session.mediaPath.split('/').pop() ?? '';
  return [
    internalPassword(secretKey),
    session.readUrl.rtsp,
    session.readUrl.hls,
    session.mediaPath,
    key,
  ].filter((s) => s.length > 0);
}
