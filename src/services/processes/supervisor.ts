import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { killGroup, processStartTime, removePidRecord, writePidRecord } from './pid-records';

// Long-running child processes (relay and recording ffmpegs) kept alive by Portal: each runs in its
// own process group (so a stop reaches anything it spawned), is restarted after it exits with an
// exponential backoff (reset once a run lasted `resetAfterMs`), reports its state and last error,
// and is stopped with SIGTERM, then SIGKILL after `stopTimeoutMs`. Every running child has a
// record in the registry directory; pid-records.ts kills what a dead Portal left behind.

export type ProcessState = 'starting' | 'running' | 'retrying' | 'stopped';

export type ProcessStatus = {
  state: ProcessState;
  pid: number | null;
  restarts: number;
  lastError: string | null;
  /** When the next start is due (state `retrying`). */
  retryAt: Date | null;
};

export type ProcessSpec = {
  id: string;
  command: string;
  /** Computed at every (re)start, so a restart may continue where the last run stopped. */
  args(): string[] | Promise<string[]>;
  /** Texts never shown in `lastError` (stream keys, credentials in URLs). */
  secrets?: string[];
  /** Kept in the registry record for resuming after a restart (no secrets). */
  meta?: Record<string, unknown>;
  /** A stdout line that proves the process is working (`running`); without it, running at spawn. */
  isProgress?(line: string): boolean;
  backoff?: { initialMs: number; maxMs: number; resetAfterMs: number };
  stopTimeoutMs?: number;
  /** Called on every state change (status pages, the database). */
  onStatus?(status: ProcessStatus): void;
  /** Whether to start again after an exit (default: always, until stopped). */
  restartAfter?(exit: { code: number | null; signal: NodeJS.Signals | null }): boolean;
};

type Log = {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
};

const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 60_000, resetAfterMs: 30_000 };

/** `lastError` text: the secrets replaced, control bytes dropped, bounded. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
  return (
    out
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are dropped
      .replace(/[\u0000-\u001f\u007f]/g, ' ')
      .trim()
      .slice(0, 500)
  );
}

type Entry = {
  spec: ProcessSpec;
  status: ProcessStatus;
  child: ChildProcess | null;
  exited: Promise<void> | null;
  timer: NodeJS.Timeout | null;
  stopping: boolean;
  failures: number;
};

export type Supervisor = ReturnType<typeof createSupervisor>;

export function createSupervisor(opts: { registryDir: string; log: Log }) {
  const entries = new Map<string, Entry>();

  const setStatus = (entry: Entry, patch: Partial<ProcessStatus>) => {
    entry.status = { ...entry.status, ...patch };
    try {
      entry.spec.onStatus?.({ ...entry.status });
    } catch (err) {
      opts.log.warn({ err, process: entry.spec.id }, 'process status listener failed');
    }
  };

  async function launch(entry: Entry) {
    const { spec } = entry;
    entry.timer = null;
    if (entry.stopping) return;
    setStatus(entry, { state: 'starting', retryAt: null, pid: null });
    let args: string[];
    try {
      args = await spec.args();
    } catch (err) {
      return scheduleRestart(
        entry,
        redact(`could not prepare: ${(err as Error).message}`, spec.secrets ?? []),
      );
    }
    if (entry.stopping) return;
    const startedAt = Date.now();
    const child = spawn(spec.command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    entry.child = child;
    let lastLine: string | null = null;
    let spawnError: string | null = null;
    entry.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        spawnError = err.message;
        if (child.pid === undefined) resolve();
      });
      child.once('close', () => resolve());
    }).then(() => {
      if (child.pid !== undefined) {
        // Stragglers of the group (a child's own children) go with it.
        killGroup(child.pid, 'SIGKILL');
        removePidRecord(opts.registryDir, spec.id);
      }
    });
    if (child.pid !== undefined) {
      writePidRecord(opts.registryDir, {
        id: spec.id,
        pid: child.pid,
        startTime: processStartTime(child.pid),
        command: spec.command,
        meta: spec.meta ?? {},
        createdAt: new Date().toISOString(),
      });
      setStatus(entry, { pid: child.pid, ...(spec.isProgress ? {} : { state: 'running' }) });
    }
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (line.trim() !== '') lastLine = line;
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (entry.status.state === 'starting' && spec.isProgress?.(line))
        setStatus(entry, { state: 'running' });
    });
    let code: number | null = null;
    let signal: NodeJS.Signals | null = null;
    child.once('exit', (c, sig) => {
      code = c;
      signal = sig;
    });
    await entry.exited;
    entry.child = null;
    if (entry.stopping) return;
    if (Date.now() - startedAt >= (spec.backoff ?? DEFAULT_BACKOFF).resetAfterMs) entry.failures = 0;
    const why =
      spawnError ?? lastLine ?? (signal ? `killed by ${signal}` : `exited with code ${code ?? 'unknown'}`);
    if (spec.restartAfter && !spec.restartAfter({ code, signal })) {
      setStatus(entry, {
        state: 'stopped',
        pid: null,
        lastError: code === 0 ? null : redact(why, spec.secrets ?? []),
      });
      entries.delete(spec.id);
      return;
    }
    scheduleRestart(entry, redact(why, spec.secrets ?? []));
  }

  function scheduleRestart(entry: Entry, error: string) {
    const backoff = entry.spec.backoff ?? DEFAULT_BACKOFF;
    const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(entry.failures, 20));
    entry.failures += 1;
    opts.log.warn({ process: entry.spec.id, error, retry_in_ms: delay }, 'supervised process exited');
    setStatus(entry, {
      state: 'retrying',
      pid: null,
      restarts: entry.status.restarts + 1,
      lastError: error,
      retryAt: new Date(Date.now() + delay),
    });
    entry.timer = setTimeout(() => void launch(entry), delay);
  }

  async function stopEntry(entry: Entry) {
    entry.stopping = true;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    const child = entry.child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      killGroup(child.pid, 'SIGTERM');
      const timeout = entry.spec.stopTimeoutMs ?? 5000;
      const timer = setTimeout(() => killGroup(child.pid as number, 'SIGKILL'), timeout);
      await entry.exited;
      clearTimeout(timer);
    }
    setStatus(entry, { state: 'stopped', pid: null, retryAt: null });
  }

  return {
    /** Starts `spec` (a running process of the same id is left as it is). */
    start(spec: ProcessSpec): ProcessStatus {
      const existing = entries.get(spec.id);
      if (existing) return { ...existing.status };
      const entry: Entry = {
        spec,
        status: { state: 'starting', pid: null, restarts: 0, lastError: null, retryAt: null },
        child: null,
        exited: null,
        timer: null,
        stopping: false,
        failures: 0,
      };
      entries.set(spec.id, entry);
      opts.log.info({ process: spec.id }, 'starting supervised process');
      void launch(entry);
      return { ...entry.status };
    },

    /** Stops and forgets a process (SIGTERM, then SIGKILL); resolves when it is gone. */
    async stop(id: string) {
      const entry = entries.get(id);
      if (!entry) return;
      entries.delete(id);
      await stopEntry(entry);
    },

    status: (id: string): ProcessStatus | null => {
      const entry = entries.get(id);
      return entry ? { ...entry.status } : null;
    },

    ids: () => [...entries.keys()],

    async stopAll() {
      const all = [...entries.values()];
      entries.clear();
      await Promise.all(all.map(stopEntry));
    },
  };
}
