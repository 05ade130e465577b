/**
 * The processes the idle-cost benchmark measures, each started in its own process group, with what is
 * needed to know when it is idle, to stop it and to prove that nothing it started is left:
 * - a bare `node` (the yardstick) and idle `node` processes that only imported some modules (where RSS goes);
 * - fcgi-spawn as a daemon (`start`, found through its `ready (pid N)` line), with fcgiwrap or the Node
 *   responder fixture as workers, and in the foreground (`start -n`) under node flags, for the diagnosis;
 * - spawn-fcgi + multiwatch and supervisord ([fcgi-program], its own configuration in a temp dir).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { readStat } from '../../src/os/proc.js';
import { workerActivity } from '../../src/os/worker-activity.js';
import { blockedIn, childrenOf } from './proc.js';

export type Role = 'baseline' | 'supervisor' | 'diagnosis' | 'attribution';

export interface ContenderSpec {
  readonly key: string;
  readonly label: string;
  readonly role: Role;
  /** A Node process: its threads get names from their start order, its RSS a module attribution. */
  readonly node: boolean;
  /** Workers it must run, each waiting on the socket, before it counts as ready (0: none). */
  readonly workers: number;
}

const STDERR_KEPT = 64 * 1024;

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // ESRCH: already gone.
  }
}

function startTimeOf(pid: number): number | undefined {
  return readStat(pid)?.startTime;
}

/** The same process (pid and start time), not reaped and not a zombie. */
function isRunning(pid: number, startTime: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

function socketInodeAtFd0(pid: number): number | undefined {
  try {
    const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/0`));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export abstract class Contender {
  supervisorPid = 0;
  supervisorStart = 0;
  /** performance.now() when it was seen ready (its workers waiting on the socket). */
  readyAt = Number.NaN;
  /** performance.now() when its process was started. */
  spawnedAt = Number.NaN;
  /** Every worker pid seen, with its start time: what cleanup must prove gone. */
  readonly workers = new Map<number, number>();
  protected child: ChildProcess | undefined;
  protected exitedWith: string | undefined;
  protected stdoutText = '';
  protected stderrText = '';
  private exited: Promise<void> | undefined;

  /** Where it runs: the repository, so that a bare `import('winston')` resolves from its node_modules. */
  cwd: string = process.cwd();

  constructor(readonly spec: ContenderSpec, readonly command: readonly string[]) {}

  get stdout(): string {
    return this.stdoutText;
  }

  abstract start(deadline: number): Promise<void>;

  /** Start `command` in a process group of its own, keeping the tail of its output. */
  protected launch(env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const [file, ...args] = this.command;
    const child = spawn(file ?? '', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env, cwd: this.cwd });
    this.child = child;
    this.spawnedAt = performance.now();
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, sig) => {
        this.exitedWith = sig ? `killed by ${sig}` : `exit status ${code}`;
        resolve();
      });
      child.once('error', (error) => {
        this.exitedWith = `could not start: ${error.message}`;
        resolve();
      });
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      this.stdoutText = (this.stdoutText + chunk).slice(-4 * STDERR_KEPT);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrText = (this.stderrText + chunk).slice(-STDERR_KEPT);
    });
    return child;
  }

  protected async waitUntil(deadline: number, what: string, check: () => boolean): Promise<void> {
    while (!check()) {
      if (this.exitedWith) throw new Error(`${this.spec.label} ended (${this.exitedWith}) before ${what}; its stderr ends:\n${this.stderrText.slice(-2000)}`);
      if (this.supervisorPid > 0 && !this.supervisorRunning()) throw new Error(`${this.spec.label}: pid ${this.supervisorPid} ended before ${what}`);
      if (Date.now() > deadline) throw new Error(`${this.spec.label}: timed out waiting for ${what}; its stderr ends:\n${this.stderrText.slice(-2000)}`);
      await delay(20);
    }
  }

  protected adopt(pid: number): void {
    this.supervisorPid = pid;
    this.supervisorStart = startTimeOf(pid) ?? 0;
  }

  /** Live children of the supervisor, each recorded for cleanup. */
  currentWorkers(): number[] {
    const found: number[] = [];
    for (const pid of childrenOf(this.supervisorPid)) {
      const stat = readStat(pid);
      if (!stat || stat.state === 'Z') continue;
      if (!this.workers.has(pid)) this.workers.set(pid, stat.startTime);
      found.push(pid);
    }
    return found;
  }

  /** Wait until the supervisor has exactly spec.workers children, each waiting on the socket at its fd 0. */
  protected async waitForIdleWorkers(deadline: number): Promise<void> {
    await this.waitUntil(deadline, `${this.spec.workers} workers waiting on the socket`, () => {
      const workers = this.currentWorkers();
      if (workers.length !== this.spec.workers) return false;
      const inode = socketInodeAtFd0(workers[0] ?? 0);
      return inode !== undefined && workers.every((pid) => workerActivity(pid, { inode })?.ready !== undefined);
    });
    this.readyAt = performance.now();
  }

  /** Wait until the main thread sits in its event loop's wait (a Node process done with its start-up script). */
  protected async waitForMainLoop(deadline: number): Promise<void> {
    await this.waitUntil(deadline, 'its main thread waiting in epoll', () => blockedIn(this.supervisorPid, this.supervisorPid).startsWith('epoll'));
    this.readyAt = performance.now();
  }

  /** Stop it the way its users do; returns notes on anything that needed force. */
  abstract stop(graceMs: number): Promise<string>;

  /** SIGTERM to our child, SIGKILL at the deadline; then SIGKILL every recorded worker still running. */
  protected async stopChild(graceMs: number, sig: NodeJS.Signals = 'SIGTERM'): Promise<string> {
    const notes: string[] = [];
    if (this.child && !this.exitedWith && this.supervisorPid > 0) {
      this.currentWorkers();
      signal(this.supervisorPid, sig);
      const stopped = await Promise.race([this.exited?.then(() => true), delay(graceMs).then(() => false)]);
      if (!stopped) {
        notes.push(`${this.spec.label} ignored ${sig} for ${graceMs} ms: SIGKILL`);
        signal(this.supervisorPid, 'SIGKILL');
        await Promise.race([this.exited, delay(graceMs)]);
      }
    }
    notes.push(...(await this.killLeftWorkers(graceMs)));
    return notes.join('; ');
  }

  protected async killLeftWorkers(graceMs: number): Promise<string[]> {
    const left = this.runningWorkers();
    if (left.length === 0) return [];
    for (const pid of left) signal(pid, 'SIGKILL');
    const deadline = Date.now() + graceMs;
    while (this.runningWorkers().length > 0 && Date.now() < deadline) await delay(10);
    return [`${this.spec.label} left ${left.length} worker(s) running (${left.join(', ')}): SIGKILL`];
  }

  runningWorkers(): number[] {
    return [...this.workers].filter(([pid, start]) => isRunning(pid, start)).map(([pid]) => pid);
  }

  supervisorRunning(): boolean {
    return this.supervisorPid > 0 && isRunning(this.supervisorPid, this.supervisorStart);
  }

  /** What is still running of what it started. */
  leftovers(): string[] {
    const left = this.runningWorkers().map((pid) => `worker ${pid}`);
    if (this.supervisorRunning()) left.unshift(`supervisor ${this.supervisorPid}`);
    return left.map((what) => `${what} (${this.spec.label})`);
  }

  /** For an abrupt exit of the benchmark: no waiting, SIGKILL whatever is still ours. */
  killEverythingNow(): void {
    if (this.supervisorRunning()) signal(this.supervisorPid, 'SIGKILL');
    for (const pid of this.runningWorkers()) signal(pid, 'SIGKILL');
  }
}

/** A Node process that runs one script and then idles: the bare yardstick, or one that imported modules first. */
export class IdleNode extends Contender {
  async start(deadline: number): Promise<void> {
    const child = this.launch();
    if (child.pid === undefined) await this.waitUntil(deadline, 'its start', () => false);
    this.adopt(child.pid ?? 0);
    await this.waitForMainLoop(deadline);
  }

  stop(graceMs: number): Promise<string> {
    return this.stopChild(graceMs);
  }
}

export interface FcgiSpawnPaths {
  readonly cli: string;
  readonly runDir: string;
  readonly logDir: string;
}

/** `fcgi-spawn start` (a daemon): the pid to measure is the one its ready line names. */
export class FcgiSpawnDaemon extends Contender {
  private readonly port: number;

  constructor(spec: ContenderSpec, private readonly paths: FcgiSpawnPaths, port: number, worker: readonly string[]) {
    super(spec, [process.execPath, paths.cli, 'start', '-p', String(port), '-F', String(spec.workers), '--allow-root', '--', ...worker]);
    this.port = port;
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, FCGI_SPAWN_RUN_DIR: this.paths.runDir, FCGI_SPAWN_LOG_DIR: this.paths.logDir };
  }

  async start(deadline: number): Promise<void> {
    const [file, ...args] = this.command;
    this.spawnedAt = performance.now();
    const run = spawnSync(file ?? '', args, { encoding: 'utf8', env: this.env(), timeout: Math.max(1000, deadline - Date.now()) });
    const text = `${run.stdout ?? ''}${run.stderr ?? ''}`;
    const pid = /\bready \(pid (\d+)\)/.exec(text)?.[1];
    if (run.status !== 0 || pid === undefined) throw new Error(`${this.spec.label}: start exited with ${run.status ?? run.signal}: ${text.trim()}`);
    this.adopt(Number(pid));
    await this.waitForIdleWorkers(deadline);
  }

  async stop(graceMs: number): Promise<string> {
    const notes: string[] = [];
    if (this.supervisorRunning()) {
      this.currentWorkers();
      const run = spawnSync(process.execPath, [this.paths.cli, 'stop', '-p', String(this.port), '--timeout', String(Math.ceil(graceMs / 1000))], {
        encoding: 'utf8',
        env: this.env(),
        timeout: graceMs + 10_000,
      });
      if (run.status !== 0) notes.push(`fcgi-spawn stop exited with ${run.status ?? run.signal}: ${`${run.stdout}${run.stderr}`.trim()}`);
      if (this.supervisorRunning()) {
        notes.push(`${this.spec.label} supervisor ${this.supervisorPid} still running after stop: SIGKILL`);
        signal(this.supervisorPid, 'SIGKILL');
      }
    }
    notes.push(...(await this.killLeftWorkers(graceMs)));
    return notes.join('; ');
  }
}

/** `fcgi-spawn start -n` under node flags (--trace-gc, --no-memory-reducer): the same supervisor, observable. */
export class FcgiSpawnForeground extends Contender {
  constructor(spec: ContenderSpec, private readonly paths: FcgiSpawnPaths, port: number, nodeFlags: readonly string[], worker: readonly string[]) {
    super(spec, [process.execPath, ...nodeFlags, paths.cli, 'start', '-n', '-p', String(port), '-F', String(spec.workers), '--allow-root', '--', ...worker]);
  }

  async start(deadline: number): Promise<void> {
    const child = this.launch({ ...process.env, FCGI_SPAWN_RUN_DIR: this.paths.runDir, FCGI_SPAWN_LOG_DIR: this.paths.logDir });
    this.adopt(child.pid ?? 0);
    await this.waitUntil(deadline, 'its ready line', () => /info: ready:/.test(this.stderrText));
    await this.waitForIdleWorkers(deadline);
  }

  stop(graceMs: number): Promise<string> {
    return this.stopChild(graceMs);
  }
}

/** spawn-fcgi -n binds and execs multiwatch, which forks the workers: the spawned pid is multiwatch. */
export class Multiwatch extends Contender {
  async start(deadline: number): Promise<void> {
    const child = this.launch();
    this.adopt(child.pid ?? 0);
    await this.waitForIdleWorkers(deadline);
  }

  stop(graceMs: number): Promise<string> {
    return this.stopChild(graceMs);
  }
}

/** supervisord -n with an [fcgi-program] section: it binds the socket and runs numprocs workers on it. */
export class Supervisord extends Contender {
  constructor(spec: ContenderSpec, supervisord: string, dir: string, port: number, program: string) {
    super(spec, [supervisord, '-n', '-c', join(dir, 'supervisord.conf')]);
    const conf = [
      '[supervisord]',
      'nodaemon=true',
      'user=root',
      `logfile=${join(dir, 'supervisord.log')}`,
      `pidfile=${join(dir, 'supervisord.pid')}`,
      `childlogdir=${dir}`,
      '',
      '[fcgi-program:fcgiwrap]',
      `socket=tcp://127.0.0.1:${port}`,
      `command=${program}`,
      `numprocs=${spec.workers}`,
      'process_name=%(program_name)s_%(process_num)02d',
      'autostart=true',
      'autorestart=true',
      `stdout_logfile=${join(dir, 'fcgiwrap.out')}`,
      `stderr_logfile=${join(dir, 'fcgiwrap.err')}`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'supervisord.conf'), conf);
  }

  async start(deadline: number): Promise<void> {
    const child = this.launch();
    this.adopt(child.pid ?? 0);
    await this.waitForIdleWorkers(deadline);
  }

  stop(graceMs: number): Promise<string> {
    return this.stopChild(graceMs);
  }
}
