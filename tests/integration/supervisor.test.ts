import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log';
import { isSameProcess, readPidRecords, reapOrphans } from '../../src/services/processes/pid-records';
import {
  createSupervisor,
  type ProcessStatus,
  type Supervisor,
} from '../../src/services/processes/supervisor';
import { makeTempDir, removeDir } from '../helpers/env';
import { eventually as waitFor } from '../helpers/eventually';

// The process supervisor with real child processes: restart after a kill, backoff and the last
// error (secrets hidden), SIGTERM then SIGKILL on stop, and no orphan after the parent dies.

const log = createLogger('silent');
const node = process.execPath;
const dirs: string[] = [];
const supervisors: Supervisor[] = [];

afterEach(async () => {
  for (const s of supervisors.splice(0)) await s.stopAll();
  for (const d of dirs.splice(0)) removeDir(d);
});

function setup() {
  const dir = makeTempDir('portal-procs-');
  dirs.push(dir);
  const supervisor = createSupervisor({ registryDir: dir, log });
  supervisors.push(supervisor);
  return { dir, supervisor };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const backoff = { initialMs: 50, maxMs: 400, resetAfterMs: 60_000 };

describe('process supervisor', () => {
  it('restarts a killed process, with its record in the registry', async () => {
    const { dir, supervisor } = setup();
    const states: ProcessStatus[] = [];
    supervisor.start({
      id: 'sleeper',
      command: node,
      args: () => ['-e', 'setInterval(() => {}, 1000)'],
      backoff,
      onStatus: (s) => states.push(s),
    });
    const first = await waitFor(() => supervisor.status('sleeper')?.pid ?? undefined);
    expect(readPidRecords(dir).map((r) => r.pid)).toEqual([first]);
    process.kill(first, 'SIGKILL');
    const second = await waitFor(() => {
      const s = supervisor.status('sleeper');
      return s?.state === 'running' && s.pid !== first ? s.pid : undefined;
    });
    expect(alive(first)).toBe(false);
    expect(supervisor.status('sleeper')).toMatchObject({ restarts: 1, lastError: 'killed by SIGKILL' });
    expect(states.some((s) => s.state === 'retrying')).toBe(true);
    expect(readPidRecords(dir).map((r) => r.pid)).toEqual([second]);

    await supervisor.stop('sleeper');
    expect(alive(second as number)).toBe(false);
    expect(readPidRecords(dir)).toEqual([]);
    expect(supervisor.status('sleeper')).toBeNull();
  });

  it('backs off a failing process and shows its last error with secrets hidden', async () => {
    const { supervisor } = setup();
    supervisor.start({
      id: 'failing',
      command: node,
      args: () => ['-e', 'console.error("cannot reach rtmp://host/app/sk_TOPSECRET123"); process.exit(3)'],
      secrets: ['sk_TOPSECRET123'],
      backoff,
    });
    const status = await waitFor(() => {
      const s = supervisor.status('failing');
      return s && s.restarts >= 3 ? s : undefined;
    });
    expect(status.lastError).toBe('cannot reach rtmp://host/app/***');
    expect(status.state === 'retrying' || status.state === 'starting' || status.state === 'running').toBe(
      true,
    );
  });

  it('reports a missing binary as the last error', async () => {
    const { supervisor } = setup();
    supervisor.start({ id: 'missing', command: '/nonexistent/ffmpeg', args: () => [], backoff });
    const status = await waitFor(() => supervisor.status('missing')?.lastError ?? undefined);
    expect(status).toMatch(/ENOENT/);
  });

  it('waits for progress before calling a process running', async () => {
    const { supervisor } = setup();
    supervisor.start({
      id: 'progress',
      command: node,
      args: () => [
        '-e',
        'setTimeout(() => console.log("progress=continue"), 300); setInterval(() => {}, 1000)',
      ],
      isProgress: (line) => line.startsWith('progress='),
      backoff,
    });
    expect(supervisor.status('progress')?.state).toBe('starting');
    await waitFor(() => (supervisor.status('progress')?.state === 'running' ? true : undefined));
  });

  it('kills a process that ignores SIGTERM once the stop timeout passes', async () => {
    const { supervisor } = setup();
    supervisor.start({
      id: 'stubborn',
      command: node,
      args: () => [
        '-e',
        'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)',
      ],
      isProgress: (line) => line === 'ready',
      stopTimeoutMs: 300,
      backoff,
    });
    const pid = await waitFor(() => {
      const s = supervisor.status('stubborn');
      return s?.state === 'running' ? s.pid : undefined;
    });
    await supervisor.stop('stubborn');
    expect(alive(pid as number)).toBe(false);
  });

  it('leaves no orphan when its parent dies: the next start kills what the registry names', async () => {
    const dir = makeTempDir('portal-procs-');
    dirs.push(dir);
    const root = fileURLToPath(new URL('../..', import.meta.url));
    // A parent that supervises a grandchild, then is killed without any chance to clean up.
    const script = `
      import { createSupervisor } from './src/services/processes/supervisor.ts';
      const s = createSupervisor({ registryDir: ${JSON.stringify(dir)}, log: { info() {}, warn() {} } });
      s.start({ id: 'orphan', command: ${JSON.stringify(node)}, args: () => ['-e', 'setInterval(() => {}, 1000)'],
        onStatus: (st) => { if (st.pid) console.log('PID ' + st.pid); } });
    `;
    const parent = spawn(node, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const pid = await waitFor(() => {
      const m = /PID (\d+)/.exec(out);
      return m ? Number(m[1]) : undefined;
    });
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    // The grandchild outlived its parent (its own process group): an orphan.
    expect(alive(pid)).toBe(true);
    const [record] = readPidRecords(dir);
    expect(record).toMatchObject({ id: 'orphan', pid });
    expect(isSameProcess(record!)).toBe(true);

    const { reaped } = await reapOrphans(dir);
    expect(reaped.map((r) => r.pid)).toEqual([pid]);
    await waitFor(() => (alive(pid) ? undefined : true));
    expect(readPidRecords(dir)).toEqual([]);
  });

  it('never kills a process whose PID was reused (start time differs)', async () => {
    const { dir } = setup();
    const other = spawn(node, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const { writePidRecord } = await import('../../src/services/processes/pid-records');
      writePidRecord(dir, {
        id: 'stale',
        pid: other.pid as number,
        startTime: '1',
        command: 'ffmpeg',
        meta: {},
        createdAt: new Date().toISOString(),
      });
      const { reaped, gone } = await reapOrphans(dir);
      expect(reaped).toEqual([]);
      expect(gone.map((r) => r.id)).toEqual(['stale']);
      expect(alive(other.pid as number)).toBe(true);
    } finally {
      other.kill('SIGKILL');
    }
  });
});
