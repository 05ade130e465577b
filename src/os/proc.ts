/**
 * Linux /proc readers for processes: their stat line (state, parent, group, start time) and the
 * members of a worker's process group. What a worker is doing is read in worker-activity.ts; the
 * connections it holds in connections.ts.
 */
import { closeSync, openSync, readSync, readdirSync } from 'node:fs';

export interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** Clock ticks since boot: with the pid, the identity of a process (pids are recycled). */
  readonly startTime: number;
  /** Its threads not yet released, the leader's own included. */
  readonly threads: number;
}

/**
 * Ended, with nothing of it left holding a descriptor. A zombie (PID 1 here reaps late: DESIGN.md "Platform
 * facts") counts, but only once its other threads are gone too: the leader of a multi-threaded process killed
 * by a signal shows Z while its other threads still tear down the shared descriptor table, so for a node
 * worker the listening socket outlives that Z by a few ms (a bind in that window fails with EADDRINUSE).
 */
export function hasExited(stat: ProcStat): boolean {
  return stat.state === 'X' || (stat.state === 'Z' && stat.threads <= 1);
}

/**
 * /proc files read through one buffer kept for the process: readFileSync allocates 64 KiB per call,
 * which glibc keeps after GC — measured, thousands of probes while workers start grew the heap by
 * tens of MiB.
 */
const chunk = Buffer.allocUnsafe(64 * 1024);

export function readProcText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    let text = '';
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read <= 0) return text;
      text += chunk.toString('latin1', 0, read);
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The numeric entries of a /proc directory (pids, tids, fds); none when it is gone. */
export function numericEntries(path: string): number[] {
  try {
    return readdirSync(path)
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

export function readStat(pid: number): ProcStat | undefined {
  const text = readProcText(`/proc/${pid}/stat`);
  if (text === undefined || text === '') return undefined;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
    threads: Number(fields[17]),
  };
}

export function allProcesses(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const pid of numericEntries('/proc')) {
    const stat = readStat(pid);
    if (stat) stats.push(stat);
  }
  return stats;
}

/** Live (not exited) members of a process group. */
export function processGroupMembers(pgid: number): number[] {
  return allProcesses()
    .filter((stat) => stat.pgrp === pgid && !hasExited(stat))
    .map((stat) => stat.pid);
}

/**
 * The leader's descendants in its process group, through /proc/PID/task/TID/children: a worker's
 * children (php-cgi's, fcgiwrap -c's, gunicorn's) without reading every process on the host. Where
 * the kernel has no children files, the whole table is read instead.
 */
export function groupDescendants(pgid: number): number[] {
  if (readProcText(`/proc/${pgid}/task/${pgid}/children`) === undefined) {
    return processGroupMembers(pgid).filter((pid) => pid !== pgid);
  }
  const found: number[] = [];
  const queue = [pgid];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const tid of numericEntries(`/proc/${pid}/task`)) {
      for (const child of (readProcText(`/proc/${pid}/task/${tid}/children`) ?? '').split(' ')) {
        const childPid = Number(child);
        if (!Number.isInteger(childPid) || childPid <= 0) continue;
        const stat = readStat(childPid);
        if (stat?.pgrp === pgid && !hasExited(stat)) found.push(childPid);
        queue.push(childPid);
      }
    }
  }
  return found;
}
