/**
 * A real `fcgi-spawn start -n` as a child of the test, with its log lines, its workers and a cleanup
 * that leaves nothing running: the supervisor, then every worker group it ever reported.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { groupMembers, isAlive, killQuietly } from './processes.js';
import { waitFor } from './wait.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (tests run from dist/test/helpers). */
export const ROOT = join(here, '..', '..', '..');
export const BIN = join(ROOT, 'bin', 'fcgi-spawn.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class RunningSupervisor {
  readonly lines: string[] = [];
  readonly stdout: string[] = [];
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private readonly seenPids = new Set<number>();

  constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        this.lines.push(line);
        const spawned = /worker (\d+) \(slot \d+, generation \d+\) spawned/.exec(line);
        if (spawned) this.seenPids.add(Number(spawned[1]));
      }
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => this.stdout.push(text));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Every worker pid the supervisor has reported spawning, oldest first. */
  get workerPids(): number[] {
    return [...this.seenPids];
  }

  /** The pids of the workers that are alive now. */
  liveWorkers(): number[] {
    return this.workerPids.filter(isAlive);
  }

  log(): string {
    return this.lines.join('\n');
  }

  async waitForLine(pattern: RegExp, timeoutMs = 15_000, after = 0): Promise<string> {
    return waitFor(`a log line matching ${pattern}\n--- log so far:\n${this.log()}`, () => {
      const line = this.lines.slice(after).find((l) => pattern.test(l));
      if (line) return line;
      if (!this.running) throw new Error(`supervisor exited (${JSON.stringify(this.exit)}) before ${pattern}:\n${this.log()}`);
      return undefined;
    }, { timeoutMs });
  }

  async waitReady(timeoutMs = 15_000): Promise<void> {
    await this.waitForLine(/info: ready: /, timeoutMs);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<Exit> {
    if (this.running) killQuietly(this.pid, signal);
    return this.waitExit(timeoutMs);
  }

  async waitExit(timeoutMs = 20_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`supervisor ${this.pid} still running after ${timeoutMs} ms:\n${this.log()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Worker processes (and their groups) still alive: what a correct stop leaves is none. */
  strays(): number[] {
    return this.workerPids.flatMap((pid) => groupMembers(pid));
  }

  /** Ends everything this supervisor started, by pid, whatever state the test left it in. */
  async cleanup(): Promise<void> {
    if (this.running) {
      killQuietly(this.pid, 'SIGTERM');
      try {
        await this.waitExit(15_000);
      } catch {
        killQuietly(this.pid, 'SIGKILL');
        await this.exited;
      }
    }
    for (const pgid of this.workerPids) {
      if (groupMembers(pgid).length > 0) killQuietly(-pgid, 'SIGKILL');
    }
    await waitFor('every worker gone', () => this.strays().length === 0, { timeoutMs: 5_000 });
  }
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** `fcgi-spawn start -n ARGS` (--allow-root added when running as root without -u). */
export function startSupervisor(args: readonly string[], options: StartOptions = {}): RunningSupervisor {
  const needsAllowRoot = process.geteuid?.() === 0 && !args.includes('-u') && !args.includes('--allow-root');
  const separator = args.indexOf('--');
  const own = separator === -1 ? [...args] : args.slice(0, separator);
  const rest = separator === -1 ? [] : args.slice(separator);
  const child = spawn(process.execPath, [BIN, 'start', '-n', ...own, ...(needsAllowRoot ? ['--allow-root'] : []), ...rest], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd ?? ROOT,
  });
  return new RunningSupervisor(child);
}

/** Run the CLI to completion: exit code and output. */
export function runCli(args: readonly string[], options: StartOptions & { timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd ?? ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fcgi-spawn ${args.join(' ')} did not finish within ${options.timeoutMs ?? 30_000} ms:\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
