/**
 * A server program the benchmarks start (a supervisor, php-fpm's master, gunicorn's master, nginx, …):
 * spawned in its own process group, its stdout and stderr read as timestamped lines, stopped by pid.
 * The Ledger records every process a benchmark started or saw its servers start (pid + start time), so
 * that the end of a run can prove none is left, and kill by pid whatever is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, watch, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { allProcesses } from '../../src/os/proc.js';
import { briefStat, isRunning } from '../respawn/observe.js';

export interface Line {
  readonly text: string;
  /** performance.now() when the line arrived on the pipe. */
  readonly at: number;
}

const LINES_KEPT = 20_000;

export class ServerProcess {
  readonly lines: Line[] = [];
  readonly pid: number;
  readonly startTime: number;
  readonly exited: Promise<string>;
  private exitText: string | undefined;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly label: string,
    file: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
    private readonly ledger: Ledger,
  ) {
    this.child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: options.env ?? process.env, cwd: options.cwd });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitText = signal ? `killed by ${signal}` : `exit status ${code}`;
        this.wake();
        resolve(this.exitText);
      });
      this.child.once('error', (error) => {
        this.exitText = `could not start: ${error.message}`;
        this.wake();
        resolve(this.exitText);
      });
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', this.splitter());
    }
    this.pid = this.child.pid ?? 0;
    this.startTime = briefStat(this.pid)?.startTime ?? 0;
    if (this.pid > 0) ledger.add(this.pid, this.startTime, label, true);
  }

  /** A function that takes chunks of text and adds the complete lines, stamped with their arrival. */
  private splitter(): (text: string) => void {
    let partial = '';
    return (text: string) => {
      const at = performance.now();
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) this.lines.push({ text: part, at });
      if (this.lines.length > LINES_KEPT) this.lines.splice(0, this.lines.length - LINES_KEPT);
      this.wake();
    };
  }

  /**
   * Also take the lines of a log file (create it before the program starts), as soon as inotify tells,
   * with a 50 ms poll behind it. For programs that cannot log to our pipes: php-fpm opens its error_log by
   * path, and opening /proc/self/fd/2 fails with ENXIO when it is a socketpair (what Node's stdio pipes are).
   */
  followFile(path: string): void {
    const add = this.splitter();
    let offset = 0;
    const read = (): void => {
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch {
        return;
      }
      try {
        const size = fstatSync(fd).size;
        if (size <= offset) return;
        const buffer = Buffer.alloc(size - offset);
        const got = readSync(fd, buffer, 0, buffer.length, offset);
        offset += got;
        add(buffer.toString('utf8', 0, got));
      } finally {
        closeSync(fd);
      }
    };
    const watcher = watch(path, () => read());
    const poll = setInterval(read, 50);
    void this.exited.then(() => {
      read();
      watcher.close();
      clearInterval(poll);
    });
  }

  get running(): boolean {
    return this.exitText === undefined && this.pid > 0;
  }

  get exitStatus(): string | undefined {
    return this.exitText;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The last lines, for an error message. */
  tail(count = 30): string {
    return this.lines.slice(-count).map((line) => line.text).join('\n');
  }

  /**
   * The first line from index `from` on that matches, as soon as it arrives (no polling); throws at the
   * deadline or when the process exits first. Returns the line and its index.
   */
  async waitForLine(pattern: RegExp, from: number, timeoutMs: number): Promise<{ line: Line; index: number }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      // Lines may have been dropped from the front (LINES_KEPT): indices are only used within one wait.
      for (let index = Math.max(0, from); index < this.lines.length; index += 1) {
        const line = this.lines[index] as Line;
        if (pattern.test(line.text)) return { line, index };
      }
      from = Math.max(from, this.lines.length);
      if (!this.running) throw new Error(`${this.label} ended (${this.exitText}) before a line matching ${pattern}; it printed:\n${this.tail()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.label}: no line matching ${pattern} within ${timeoutMs} ms; it printed:\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  signal(name: NodeJS.Signals): void {
    if (this.running) signalPid(this.pid, name);
  }

  /** `signal`, wait for the exit, SIGKILL at the deadline; then SIGKILL what is left of its process group. */
  async stop(name: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<string> {
    const notes: string[] = [];
    if (this.running) {
      this.signal(name);
      const stopped = await Promise.race([this.exited.then(() => true), delay(graceMs).then(() => false)]);
      if (!stopped) {
        notes.push(`${this.label} ignored ${name} for ${graceMs} ms: SIGKILL`);
        signalPid(this.pid, 'SIGKILL');
        await Promise.race([this.exited, delay(graceMs)]);
      }
    }
    const left = this.ledger.groupMembers(this.pid, this.startTime);
    if (left.length > 0) {
      notes.push(`${this.label} left ${left.length} process(es) in its group (${left.join(', ')}): SIGKILL`);
      for (const pid of left) signalPid(pid, 'SIGKILL');
      await this.ledger.waitGone(left, graceMs);
    }
    return notes.join('; ');
  }
}

export function signalPid(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // ESRCH: already gone.
  }
}

/** Every process a benchmark is answerable for. */
export class Ledger {
  private readonly entries = new Map<number, { startTime: number; label: string; leader: boolean }>();

  /** On exit, Ctrl-C or TERM: every recorded process killed, the scratch directory removed. */
  cleanUpOnExit(scratch: string): void {
    process.on('exit', () => this.killAllNow());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        this.killAllNow();
        rmSync(scratch, { recursive: true, force: true });
        process.exit(130);
      });
    }
  }

  /** Every pid recorded (alive or not). */
  pids(): number[] {
    return [...this.entries.keys()];
  }

  add(pid: number, startTime: number, label: string, leader = false): void {
    if (pid > 0 && !this.entries.has(pid)) this.entries.set(pid, { startTime, label, leader });
  }

  /** Record a process we did not spawn ourselves (a worker, PM2's daemon), if it is alive now. */
  adopt(pid: number, label: string, leader = false): void {
    const stat = briefStat(pid);
    if (stat && stat.state !== 'Z') this.add(pid, stat.startTime, label, leader);
  }

  /** Record the live children of `pid` (a master's workers), so the end of the run can check them too. */
  adoptChildren(pid: number, label: string): number[] {
    const children = allProcesses().filter((stat) => stat.ppid === pid && stat.state !== 'Z').map((stat) => stat.pid);
    for (const child of children) this.adopt(child, label);
    return children;
  }

  /** Live members of the group led by `leader` (started no earlier than it: a recycled pgid is not ours). */
  groupMembers(leader: number, leaderStart: number): number[] {
    return allProcesses()
      .filter((stat) => stat.pgrp === leader && stat.state !== 'Z' && (briefStat(stat.pid)?.startTime ?? 0) >= leaderStart)
      .map((stat) => stat.pid);
  }

  /** Recorded processes still running, and live members of the groups we created. */
  running(): { pid: number; label: string }[] {
    const found = new Map<number, string>();
    for (const [pid, entry] of this.entries) {
      if (isRunning(pid, entry.startTime)) found.set(pid, entry.label);
      if (entry.leader) for (const member of this.groupMembers(pid, entry.startTime)) if (!found.has(member)) found.set(member, `${entry.label} (group member)`);
    }
    return [...found].map(([pid, label]) => ({ pid, label }));
  }

  async waitGone(pids: readonly number[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const alive = (): boolean => pids.some((pid) => {
      const stat = briefStat(pid);
      return stat !== undefined && stat.state !== 'Z';
    });
    while (alive() && Date.now() < deadline) await delay(5);
  }

  /** End of a run: SIGKILL by pid whatever is still running; a sentence for the report. */
  async sweep(): Promise<string> {
    const left = this.running();
    if (left.length === 0) return `${this.entries.size} processes recorded; none left running`;
    for (const { pid } of left) signalPid(pid, 'SIGKILL');
    await this.waitGone(left.map((entry) => entry.pid), 5_000);
    return `STILL RUNNING at the end (now SIGKILLed): ${left.map((entry) => `${entry.label} ${entry.pid}`).join(', ')}`;
  }

  /** For an abrupt exit: no waiting. */
  killAllNow(): void {
    for (const { pid } of this.running()) signalPid(pid, 'SIGKILL');
  }
}
