/**
 * A real `fcgi-spawn start -n` as a child of the test, with its log lines, its workers and a cleanup
 * that leaves nothing running: the supervisor, then every worker group it ever reported. With
 * `--log-file`, name the file in StartOptions.logFile: its lines are read as if they came on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { groupMembers, isAlive, killQuietly, outputOf, type RunOutput } from './processes.js';
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
  /** What came on stderr only (`lines` holds the --log-file's lines too). */
  readonly stderrLines: string[] = [];
  readonly stdout: string[] = [];
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private readonly seenPids = new Set<number>();
  /** Where reading the --log-file got to; a new inode (the file was renamed away) starts again at 0. */
  private logFileAt = { ino: -1, offset: 0, partial: '' };

  constructor(
    readonly child: ChildProcess,
    private readonly logFile?: string,
  ) {
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      this.stderrLines.push(...parts);
      this.addLines(parts);
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
    this.readLogFile();
    return [...this.seenPids];
  }

  private addLines(lines: readonly string[]): void {
    for (const line of lines) {
      this.lines.push(line);
      const spawned = /worker (\d+) \(slot \d+, generation \d+\) spawned/.exec(line);
      if (spawned) this.seenPids.add(Number(spawned[1]));
    }
  }

  /** Takes the lines added to the --log-file since the last call (lines written to a file renamed meanwhile are missed). */
  private readLogFile(): void {
    if (this.logFile === undefined) return;
    let fd: number;
    try {
      fd = openSync(this.logFile, 'r');
    } catch {
      return;
    }
    try {
      const { ino, size } = fstatSync(fd);
      if (ino !== this.logFileAt.ino) this.logFileAt = { ino, offset: 0, partial: '' };
      if (size <= this.logFileAt.offset) return;
      const buffer = Buffer.alloc(size - this.logFileAt.offset);
      const read = readSync(fd, buffer, 0, buffer.length, this.logFileAt.offset);
      this.logFileAt.offset += read;
      const parts = (this.logFileAt.partial + buffer.toString('utf8', 0, read)).split('\n');
      this.logFileAt.partial = parts.pop() ?? '';
      this.addLines(parts);
    } finally {
      closeSync(fd);
    }
  }

  /** The pids of the workers that are alive now. */
  liveWorkers(): number[] {
    return this.workerPids.filter(isAlive);
  }

  log(): string {
    this.readLogFile();
    return this.lines.join('\n');
  }

  async waitForLine(pattern: RegExp, timeoutMs = 15_000, after = 0): Promise<string> {
    return waitFor(`a log line matching ${pattern}\n--- log so far:\n${this.log()}`, () => {
      this.readLogFile();
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

/**
 * Instances started by a test process keep their pidfiles and control sockets in a run directory
 * of its own, never in /run/fcgi-spawn; removed when the test process exits.
 */
const TEST_RUN_DIR = mkdtempSync(join(tmpdir(), 'fcgi-spawn-run-'));
process.once('exit', () => rmSync(TEST_RUN_DIR, { recursive: true, force: true }));

export function testEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return env.FCGI_SPAWN_RUN_DIR ? env : { ...env, FCGI_SPAWN_RUN_DIR: TEST_RUN_DIR };
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** The --log-file among the arguments, read for log lines and worker pids. */
  readonly logFile?: string;
  /** A command run first that ends by exec-ing the supervisor's (which so keeps its pid), e.g. one that stops itself. */
  readonly prefix?: readonly string[];
}

/** `fcgi-spawn start -n ARGS` (--allow-root added when running as root without -u). */
export function startSupervisor(args: readonly string[], options: StartOptions = {}): RunningSupervisor {
  const needsAllowRoot = process.geteuid?.() === 0 && !args.includes('-u') && !args.includes('--allow-root');
  const separator = args.indexOf('--');
  const own = separator === -1 ? [...args] : args.slice(0, separator);
  const rest = separator === -1 ? [] : args.slice(separator);
  const [program, ...argv] = [...(options.prefix ?? []), process.execPath, BIN, 'start', '-n', ...own, ...(needsAllowRoot ? ['--allow-root'] : []), ...rest] as [string, ...string[]];
  const child = spawn(program, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: testEnvironment(options.env),
    cwd: options.cwd ?? ROOT,
  });
  return new RunningSupervisor(child, options.logFile);
}

/** Run the CLI to completion: exit code and output. */
export function runCli(args: readonly string[], options: StartOptions & { timeoutMs?: number } = {}): Promise<RunOutput> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: testEnvironment(options.env), cwd: options.cwd ?? ROOT });
  return outputOf(child, `fcgi-spawn ${args.join(' ')}`, options.timeoutMs ?? 30_000);
}
