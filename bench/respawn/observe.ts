/**
 * What the respawn benchmark sees of a pool through /proc: the supervisor's children, which of them
 * sit in accept() on the pool's socket, and the moments a replacement is forked, exec'd and waiting.
 * Readiness is judged the way the product judges it (DESIGN.md "Worker readiness"): a thread blocked
 * in accept()/accept4() on the socket's inode, through workerActivity() from src/os/worker-activity.ts.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { allProcesses } from '../../src/os/proc.js';
import { workerActivity } from '../../src/os/worker-activity.js';

export interface BriefStat {
  readonly pid: number;
  readonly comm: string;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** Clock ticks since boot: with the pid, the identity of a process (pids are recycled). */
  readonly startTime: number;
}

/** /proc/PID/stat with the command name, which src/os/proc.ts's readStat() leaves out. */
export function briefStat(pid: number): BriefStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return {
    pid,
    comm: text.slice(text.indexOf('(') + 1, close),
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
  };
}

/** The same process (pid and start time), not reaped and not a zombie. */
export function isRunning(pid: number, startTime: number): boolean {
  const stat = briefStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

function numericEntries(path: string): number[] {
  try {
    return readdirSync(path).filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return [];
  }
}

export function tasksOf(pid: number): number[] {
  return numericEntries(`/proc/${pid}/task`);
}

/** Whether this kernel has /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): one read instead of a /proc scan. */
export function canListChildren(): boolean {
  try {
    readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'latin1');
    return true;
  } catch {
    return false;
  }
}

/**
 * The children of a process. A child is listed under the thread that forked it, so every thread's
 * file is read (Node forks from its main thread; the list of threads is passed in, read once per kill).
 */
export function childrenOf(pid: number, tasks: readonly number[], viaChildrenFiles: boolean): number[] {
  if (!viaChildrenFiles) return allProcesses().filter((stat) => stat.ppid === pid).map((stat) => stat.pid);
  const children: number[] = [];
  for (const tid of tasks) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
    } catch {
      continue;
    }
    for (const word of text.split(' ')) if (word) children.push(Number(word));
  }
  return children;
}

/** The inode of the socket at a process's fd (`socket:[N]`). */
export function socketInode(pid: number, fd: number): number | undefined {
  try {
    const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function isIdle(pid: number, inode: number): boolean {
  return workerActivity(pid, { inode })?.ready === 'accept';
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** A sub-millisecond sleep that blocks the thread (a futex wait): Node's timers stop at 1 ms. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** The pool as the measurement needs it. `workers` collects every worker ever seen (pid → start time). */
export interface PoolView {
  readonly supervisorPid: number;
  /** Every thread of the supervisor, and those that had forked the workers seen at start (Node: its main thread). */
  readonly tasks: readonly number[];
  readonly forkingTasks: readonly number[];
  readonly viaChildrenFiles: boolean;
  readonly inode: number;
  readonly program: string;
  readonly workers: Map<number, number>;
}

/** Milliseconds after the kill at which each step was first seen (each at most one poll late). */
export interface RespawnSample {
  readonly victim: number;
  readonly replacement: number;
  /** The killed pid left /proc: the supervisor reaped it (waitpid), i.e. it noticed the exit. */
  readonly reapedMs: number;
  /** A child pid never seen before appeared: the supervisor forked. */
  readonly forkedMs: number;
  /** That child's command became the worker program: execve() done. */
  readonly execMs: number;
  /** That child is blocked in accept() on the pool's socket: the pool is whole again. */
  readonly acceptMs: number;
  readonly polls: number;
}

export interface MeasureOptions {
  readonly pollMs: number;
  readonly timeoutMs: number;
  readonly now: () => number;
}

export class RespawnTimeout extends Error {
  override readonly name = 'RespawnTimeout';
}

/**
 * SIGKILL one idle worker and poll synchronously (a futex sleep of pollMs between looks, so the
 * poller leaves the CPUs to the supervisor) until a new child of the supervisor is in accept().
 */
export function killAndMeasure(pool: PoolView, victim: number, options: MeasureOptions): RespawnSample {
  const fresh: number[] = [];
  let reaped: number | undefined;
  let forked: number | undefined;
  let execed: number | undefined;
  let polls = 0;
  const killedAt = options.now();
  process.kill(victim, 'SIGKILL');
  for (;;) {
    const t = options.now() - killedAt;
    polls += 1;
    if (reaped === undefined && briefStat(victim) === undefined) reaped = t;
    // Reading every thread's children file costs ~6 µs a thread (Node has 11): look only where the
    // workers came from, and everywhere on every 16th poll in case another thread forks.
    const tasks = polls % 16 === 0 ? pool.tasks : pool.forkingTasks;
    for (const pid of childrenOf(pool.supervisorPid, tasks, pool.viaChildrenFiles)) {
      if (pool.workers.has(pid)) continue;
      const stat = briefStat(pid);
      if (!stat) continue;
      pool.workers.set(pid, stat.startTime);
      fresh.push(pid);
      forked ??= t;
    }
    for (const pid of fresh) {
      if (execed === undefined && briefStat(pid)?.comm === pool.program) execed = t;
      if (isIdle(pid, pool.inode)) {
        const done = options.now() - killedAt;
        return {
          victim,
          replacement: pid,
          reapedMs: reaped ?? done,
          forkedMs: forked ?? done,
          execMs: execed ?? done,
          acceptMs: done,
          polls,
        };
      }
    }
    if (t > options.timeoutMs) {
      throw new RespawnTimeout(
        `no new worker in accept() ${options.timeoutMs} ms after SIGKILL of ${victim}` +
          ` (reaped: ${reaped !== undefined}, new pids: ${fresh.join(',') || 'none'})`,
      );
    }
    sleepSync(options.pollMs);
  }
}
