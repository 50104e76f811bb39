import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// Supervised processes are recorded in DATA_DIR so that a Portal that died without stopping them
// (SIGKILL, power loss of the parent only, a crash) kills them at its next start: each child runs
// in its own process group, and its record holds the group id plus the kernel's start time of the
// leader, so a PID the system has since reused for something else is never touched.

export type PidRecord = {
  id: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); null where /proc is absent. */
  startTime: string | null;
  command: string;
  /** What the owner needs to resume the job after a restart (never secrets). */
  meta: Record<string, unknown>;
  createdAt: string;
};

const fileOf = (dir: string, id: string) =>
  join(dir, `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`);

/** The kernel's start time of a process, or null (no /proc, or no such process). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last `)`.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export function writePidRecord(dir: string, record: PidRecord) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = fileOf(dir, record.id);
  // Write then rename: a crash never leaves half a record behind.
  writeFileSync(`${file}.tmp`, JSON.stringify(record), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function removePidRecord(dir: string, id: string) {
  rmSync(fileOf(dir, id), { force: true });
}

export function readPidRecords(dir: string): PidRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const records: PidRecord[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) {
      rmSync(join(dir, name), { force: true });
      continue;
    }
    try {
      records.push(JSON.parse(readFileSync(join(dir, name), 'utf8')) as PidRecord);
    } catch {
      rmSync(join(dir, name), { force: true });
    }
  }
  return records;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Whether the recorded process is still the one that was started (same PID and start time). */
export function isSameProcess(record: PidRecord): boolean {
  if (!alive(record.pid)) return false;
  const now = processStartTime(record.pid);
  // Without /proc nothing proves the PID was not reused: leave it alone.
  return record.startTime !== null && now === record.startTime;
}

/** Kills a process group with SIGKILL (ESRCH: already gone). */
export function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

/**
 * Kills every process left by an earlier run and removes the records; answers them, so their
 * owners may resume the work. Waits (up to 5 s) until each leader is gone.
 */
export async function reapOrphans(dir: string): Promise<{ reaped: PidRecord[]; gone: PidRecord[] }> {
  const reaped: PidRecord[] = [];
  const gone: PidRecord[] = [];
  for (const record of readPidRecords(dir)) {
    if (isSameProcess(record)) {
      killGroup(record.pid, 'SIGKILL');
      for (let i = 0; i < 100 && alive(record.pid) && processStartTime(record.pid) === record.startTime; i++)
        await sleep(50);
      reaped.push(record);
    } else gone.push(record);
    removePidRecord(dir, record.id);
  }
  return { reaped, gone };
}
