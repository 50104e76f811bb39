import { spawn } from 'node:child_process';

// One way to run ffmpeg for a short job (a thumbnail): bounded time, bounded output, killed on
// timeout, never a shell. ENOENT becomes `missing` so callers can fall back when it is absent.

export class FfmpegError extends Error {
  constructor(
    readonly kind: 'missing' | 'timeout' | 'failed' | 'too_large',
    detail: string,
  ) {
    super(`ffmpeg ${kind}: ${detail}`);
    this.name = 'FfmpegError';
  }
}

export type FfmpegJob = {
  ffmpegPath: string;
  args: string[];
  /** Bytes for stdin (closed after them); no stdin otherwise. */
  input?: Buffer;
  timeoutMs: number;
  maxOutputBytes: number;
};

/** Runs ffmpeg and resolves with its stdout; rejects with FfmpegError. */
export function runFfmpeg(job: FfmpegJob): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(job.ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-nostdin', ...job.args], {
      stdio: [job.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let failure: FfmpegError | null = null;
    const stop = (error: FfmpegError) => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => stop(new FfmpegError('timeout', `after ${job.timeoutMs} ms`)),
      job.timeoutMs,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > job.maxOutputBytes)
        return stop(new FfmpegError('too_large', `over ${job.maxOutputBytes} bytes`));
      out.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === 'ENOENT'
          ? new FfmpegError('missing', job.ffmpegPath)
          : new FfmpegError('failed', err.message),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      if (code !== 0 || outBytes === 0)
        return reject(new FfmpegError('failed', `exit ${code}: ${stderr.trim().split('\n').pop() ?? ''}`));
      resolve(Buffer.concat(out, outBytes));
    });
    if (job.input) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(job.input);
    }
  });
}
