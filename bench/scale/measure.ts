/**
 * What the scale benchmark reads of one supervisor through /proc, and the storm it causes: CPU time (the sum of
 * its threads' schedstat, in ns: tick-based utime+stime would round a small storm to 0 or 10 ms), RSS, context
 * switches over an idle window, `status` latency, and the time from a SIGKILL of every worker at once until as
 * many new workers sit in accept() on the socket again.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Contender } from '../idle-cost/contenders.js';
import { childrenOf, memoryOf, switchDelta, threadCounters } from '../idle-cost/proc.js';
import { briefStat, isIdle, socketInode } from '../respawn/observe.js';
import { percentile } from '../respawn/report.js';

/** CPU time of every live thread of pid, in ms. */
export function cpuMs(pid: number): number {
  let ns = 0;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return Number.NaN;
  }
  for (const tid of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // The thread ended while we looked.
    }
  }
  return ns / 1e6;
}

export function rssMiB(pid: number): number {
  return (memoryOf(pid)?.rssKiB ?? Number.NaN) / 1024;
}

export interface Rest {
  readonly rssMiB: number;
  /** CPU used over the window, ms. */
  readonly cpuMs: number;
  /** Voluntary + involuntary context switches of all its threads over the window. */
  readonly switches: number;
  readonly voluntary: number;
  readonly windowS: number;
}

/** Leaves the supervisor alone for windowS (one timer, nothing read in between) and says what it did meanwhile. */
export async function measureRest(pid: number, windowS: number): Promise<Rest> {
  const before = threadCounters(pid);
  const cpuBefore = cpuMs(pid);
  await delay(windowS * 1000);
  const after = threadCounters(pid);
  const delta = switchDelta(before, after);
  return {
    rssMiB: rssMiB(pid),
    cpuMs: cpuMs(pid) - cpuBefore,
    switches: delta.total,
    voluntary: delta.threads.reduce((sum, t) => sum + t.voluntary, 0),
    windowS,
  };
}

export interface Timings {
  readonly runs: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly failures: number;
}

/** Wall time of `file args` run to completion, runs times; a non-zero exit counts as a failure. */
export function timeCommand(file: string, args: readonly string[], env: NodeJS.ProcessEnv, runs: number): Timings {
  const samples: number[] = [];
  let failures = 0;
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    const run = spawnSync(file, [...args], { env, stdio: 'ignore', timeout: 30_000 });
    samples.push(performance.now() - started);
    if (run.status !== 0) failures += 1;
  }
  samples.sort((a, b) => a - b);
  return { runs, medianMs: percentile(samples, 0.5), p95Ms: percentile(samples, 0.95), failures };
}

export interface Storm {
  readonly workers: number;
  /** SIGKILL sent → the last new worker seen in accept(), ms (each at most one poll late). */
  readonly restoreMs: number;
  /** Supervisor CPU from the kill until restored, ms. */
  readonly cpuMs: number;
  readonly rssBeforeMiB: number;
  readonly rssRestoredMiB: number;
  /** After settleMs more. */
  readonly rssSettledMiB: number;
  readonly polls: number;
  readonly timedOut: boolean;
}

export interface StormOptions {
  readonly pollMs: number;
  readonly timeoutMs: number;
  readonly settleMs: number;
}

/** The live, non-zombie children of the supervisor, each recorded by the contender for cleanup. */
function liveChildren(c: Contender): number[] {
  return childrenOf(c.supervisorPid).filter((pid) => {
    const stat = briefStat(pid);
    if (!stat || stat.state === 'Z') return false;
    if (!c.workers.has(pid)) c.workers.set(pid, stat.startTime);
    return true;
  });
}

/**
 * SIGKILL every worker at once (one kill(2) per pid, in a tight loop), then poll /proc every pollMs (the poller
 * sleeps in between, leaving the CPUs to the supervisor) until `workers` children not seen before are blocked in
 * accept() on the socket. A worker seen idle once stays counted: no request reaches the pool meanwhile.
 */
export async function storm(c: Contender, workers: number, options: StormOptions): Promise<Storm> {
  const victims = liveChildren(c);
  const inode = socketInode(victims[0] ?? 0, 0);
  if (victims.length !== workers || inode === undefined) throw new Error(`${c.spec.label}: ${victims.length} of ${workers} workers before the storm`);
  const killed = new Set(victims);
  const rssBeforeMiB = rssMiB(c.supervisorPid);
  const cpuBefore = cpuMs(c.supervisorPid);
  const started = performance.now();
  for (const pid of victims) process.kill(pid, 'SIGKILL');
  const ready = new Set<number>();
  let polls = 0;
  let timedOut = false;
  for (;;) {
    // A timer, not a futex sleep: the event loop must keep draining the supervisor's stderr pipe (multiwatch
    // writes a line per death; a full pipe would stall it and count against its time).
    await delay(options.pollMs);
    polls += 1;
    const fresh = liveChildren(c).filter((pid) => !killed.has(pid));
    for (const pid of fresh) if (!ready.has(pid) && isIdle(pid, inode)) ready.add(pid);
    if (fresh.filter((pid) => ready.has(pid)).length >= workers) break;
    if (performance.now() - started > options.timeoutMs) {
      timedOut = true;
      break;
    }
  }
  const restoreMs = performance.now() - started;
  const cpu = cpuMs(c.supervisorPid) - cpuBefore;
  const rssRestoredMiB = rssMiB(c.supervisorPid);
  await delay(options.settleMs);
  return { workers, restoreMs, cpuMs: cpu, rssBeforeMiB, rssRestoredMiB, rssSettledMiB: rssMiB(c.supervisorPid), polls, timedOut };
}
