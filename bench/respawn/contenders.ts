/**
 * The supervisors the respawn benchmark compares, started on their own ports with two fcgiwrap
 * workers each, and everything needed to stop them and prove that nothing they started is left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { allProcesses } from '../../src/os/proc.js';
import { briefStat, canListChildren, childrenOf, isIdle, isRunning, socketInode, tasksOf, type PoolView } from './observe.js';

export interface ContenderSpec {
  readonly key: string;
  readonly label: string;
  readonly file: string;
  readonly args: readonly string[];
  /** A line on stderr that says the supervisor thinks its pool is ready, if it prints one. */
  readonly readyLine?: RegExp;
  readonly port: number;
}

const STDERR_KEPT = 64 * 1024;
const WORKERS = 2;

export class Contender {
  private child: ChildProcess | undefined;
  private stderrText = '';
  private exitedWith: string | undefined;
  private readonly exited: Promise<void>;
  private markExited!: () => void;
  supervisorPid = 0;
  supervisorStart = 0;
  view: PoolView | undefined;
  /** Every worker pid ever seen, with its start time: what cleanup must prove gone. */
  readonly workers = new Map<number, number>();

  constructor(readonly spec: ContenderSpec, private readonly program: string) {
    this.exited = new Promise((resolve) => {
      this.markExited = resolve;
    });
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Start the supervisor in its own process group (a ^C on the terminal reaches only the benchmark). */
  async start(timeoutMs: number): Promise<void> {
    const child = spawn(this.spec.file, [...this.spec.args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.child = child;
    child.on('exit', (code, signal) => {
      this.exitedWith = signal ? `killed by ${signal}` : `exit status ${code}`;
      this.markExited();
    });
    child.on('error', (error) => {
      this.exitedWith = `could not start: ${error.message}`;
      this.markExited();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrText = (this.stderrText + chunk).slice(-STDERR_KEPT);
    });
    if (child.pid === undefined) {
      await this.exited;
      throw new Error(`${this.spec.label}: ${this.exitedWith ?? 'could not start'}`);
    }
    this.supervisorPid = child.pid;
    this.supervisorStart = briefStat(child.pid)?.startTime ?? 0;
    const deadline = Date.now() + timeoutMs;
    if (this.spec.readyLine) {
      const line = this.spec.readyLine;
      await this.waitUntil(deadline, 'its ready line', () => line.test(this.stderrText));
    }
    const idle = await this.waitForIdlePool(deadline, undefined);
    const inode = socketInode(idle[0] ?? 0, 0);
    if (inode === undefined) throw new Error(`${this.spec.label}: worker ${idle[0]} has no socket at fd 0`);
    const tasks = tasksOf(this.supervisorPid);
    const viaChildrenFiles = canListChildren();
    const forkingTasks = tasks.filter((tid) => childrenOf(this.supervisorPid, [tid], viaChildrenFiles).some((pid) => idle.includes(pid)));
    this.view = {
      supervisorPid: this.supervisorPid,
      tasks,
      forkingTasks: forkingTasks.length > 0 ? forkingTasks : tasks,
      viaChildrenFiles,
      inode,
      program: this.program,
      workers: this.workers,
    };
    await this.waitForIdlePool(deadline, inode);
  }

  private async waitUntil(deadline: number, what: string, check: () => boolean): Promise<void> {
    const tail = (): string => this.stderrText.slice(-2000);
    while (!check()) {
      if (this.exitedWith) throw new Error(`${this.spec.label} ended (${this.exitedWith}) before ${what}; its stderr ends:\n${tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.spec.label}: timed out waiting for ${what}; its stderr ends:\n${tail()}`);
      await delay(1);
    }
  }

  /** The supervisor's running worker-program children, each recorded for cleanup. */
  currentWorkers(): number[] {
    const tasks = this.view?.tasks ?? tasksOf(this.supervisorPid);
    const found: number[] = [];
    for (const pid of childrenOf(this.supervisorPid, tasks, this.view?.viaChildrenFiles ?? canListChildren())) {
      const stat = briefStat(pid);
      if (!stat || stat.state === 'Z') continue;
      if (!this.workers.has(pid)) this.workers.set(pid, stat.startTime);
      if (stat.comm === this.program) found.push(pid);
    }
    return found;
  }

  /** Wait until exactly two workers sit in accept() on the socket (on inode, once it is known). */
  async waitForIdlePool(deadline: number, inode: number | undefined): Promise<number[]> {
    let idle: number[] = [];
    await this.waitUntil(deadline, `${WORKERS} idle workers`, () => {
      const workers = this.currentWorkers();
      if (workers.length !== WORKERS) return false;
      const known = inode ?? socketInode(workers[0] ?? 0, 0);
      if (known === undefined || !workers.every((pid) => isIdle(pid, known))) return false;
      idle = workers;
      return true;
    });
    return idle;
  }

  /** The idle worker that has lived longest, so that kills alternate between the slots. */
  oldestWorker(): number {
    const workers = this.currentWorkers();
    workers.sort((a, b) => (this.workers.get(a) ?? 0) - (this.workers.get(b) ?? 0) || a - b);
    const victim = workers[0];
    if (victim === undefined) throw new Error(`${this.spec.label}: no worker to kill`);
    return victim;
  }

  /** SIGTERM, then SIGKILL at the deadline; then SIGKILL every worker it left behind. Returns what was done. */
  async stop(graceMs: number): Promise<string> {
    const notes: string[] = [];
    if (this.child && !this.exitedWith) {
      this.currentWorkers();
      signal(this.supervisorPid, 'SIGTERM');
      const stopped = await Promise.race([this.exited.then(() => true), delay(graceMs).then(() => false)]);
      if (!stopped) {
        notes.push(`${this.spec.label} ignored SIGTERM for ${graceMs} ms: SIGKILL`);
        signal(this.supervisorPid, 'SIGKILL');
        await Promise.race([this.exited, delay(graceMs)]);
      }
    }
    const left = this.runningWorkers();
    if (left.length > 0) {
      notes.push(`${this.spec.label} left ${left.length} worker(s) running (${left.join(', ')}): SIGKILL`);
      for (const pid of left) signal(pid, 'SIGKILL');
      const deadline = Date.now() + graceMs;
      while (this.runningWorkers().length > 0 && Date.now() < deadline) await delay(5);
    }
    return notes.join('; ');
  }

  runningWorkers(): number[] {
    return [...this.workers].filter(([pid, start]) => isRunning(pid, start)).map(([pid]) => pid);
  }

  supervisorRunning(): boolean {
    return this.supervisorPid > 0 && isRunning(this.supervisorPid, this.supervisorStart);
  }

  /** For an abrupt exit of the benchmark: no waiting, just SIGKILL whatever is still ours. */
  killEverythingNow(): void {
    if (this.supervisorRunning()) signal(this.supervisorPid, 'SIGKILL');
    for (const pid of this.runningWorkers()) signal(pid, 'SIGKILL');
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // ESRCH: already gone.
  }
}

/**
 * Worker-program processes in /proc that these contenders started: recorded pids with the same
 * start time, or children or group members of a supervisor (a worker forked after our last look).
 */
export function strayWorkers(contenders: readonly Contender[], program: string): string[] {
  const stray: string[] = [];
  for (const stat of allProcesses()) {
    if (stat.state === 'Z') continue;
    const comm = briefStat(stat.pid)?.comm;
    for (const c of contenders) {
      const recorded = c.workers.get(stat.pid) === stat.startTime;
      const related = stat.ppid === c.supervisorPid || stat.pgrp === c.supervisorPid;
      if (stat.pid === c.supervisorPid && stat.startTime === c.supervisorStart) stray.push(`${c.spec.label} supervisor ${stat.pid}`);
      else if (comm === program && (recorded || related)) stray.push(`${program} ${stat.pid} (${c.spec.label})`);
    }
  }
  return stray;
}
