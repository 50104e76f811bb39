import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

// Is a backend reachable? A TCP connect for most plugins; an HTTP GET for web ones, where any
// answer below 500 counts as healthy. Certificates are not checked: only reachability is measured
// and nothing is sent but a bare GET.

export type HealthResult = { healthy: boolean; latency_ms: number | null };

export const HEALTH_TIMEOUT_MS = 3_000;

const HTTP_PLUGINS = new Set(['http', 'https', 'http_proxy', 'proxmox']);

function schemeFor(plugin: string, port: number): 'http' | 'https' | null {
  if (!HTTP_PLUGINS.has(plugin)) return null;
  if (plugin === 'http') return 'http';
  if (plugin === 'http_proxy') return port === 80 ? 'http' : 'https';
  return 'https';
}

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

function httpCheck(
  scheme: 'http' | 'https',
  host: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const request = scheme === 'https' ? httpsRequest : httpRequest;
    const req = request(
      { host, port, path, method: 'GET', rejectUnauthorized: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        req.destroy();
        resolve((res.statusCode ?? 500) < 500);
      },
    );
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.once('error', () => resolve(false));
    req.end();
  });
}

export async function checkEndpoint(
  target: { plugin: string; host: string; port: number },
  timeoutMs = HEALTH_TIMEOUT_MS,
): Promise<HealthResult> {
  const started = performance.now();
  const scheme = schemeFor(target.plugin, target.port);
  const healthy = scheme
    ? await httpCheck(scheme, target.host, target.port, '/', timeoutMs)
    : await tcpCheck(target.host, target.port, timeoutMs);
  return { healthy, latency_ms: healthy ? Math.max(0, Math.round(performance.now() - started)) : null };
}
