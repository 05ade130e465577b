/**
 * The logs of one supervisor, built from its SupervisorConfig and pools: the supervisor's own log (supervisor-log.ts) and the
 * one sink every worker's output goes to. The foreground `start` and the daemon both build them here; they differ
 * only in defaults (OpenLogsOptions).
 *
 * - Worker output to a file: stdout and stderr are pipes, each captured line by line (worker-output.ts) into one
 *   rotating file. `inherit`: stdout is the worker's own (ours), stderr passes through us as written (raw) so that
 *   its last line can be told when a start fails. `none`: /dev/null, and there is no last line to tell.
 * - The sinks report their own faults to the supervisor log, once per episode (sink.ts): the log module decides
 *   nothing, it only tells, so this does not go through the supervisor's event queue.
 * - `logger.reopen()` (the Supervisor's SIGUSR1 effect) reopens every file, not only the supervisor log's.
 */
import { fstatSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { DEFAULT_LOG_MAX_FILES } from '../config/log-config.js';
import type { PoolConfig, SupervisorConfig, WorkerLogTarget } from '../config/types.js';
import { CliError, START_EXIT, describeError } from '../errors.js';
import type { Logger } from './logger.js';
import { openRotatingFile } from './rotating-file.js';
import { LogFileRefusedError } from './safe-open.js';
import { describeErrno, type LineSink, type SinkRecovery } from './sink.js';
import { StreamSink } from './stream-sink.js';
import { createSupervisorLogger, type SupervisorLogger } from './supervisor-log.js';
import type { WorkerLogFormat, WorkerStreamName } from './worker-line-format.js';
import { captureWorkerOutput, type WorkerOutputCapture } from './worker-output.js';

/** How a worker's stdout and stderr are opened (runtime/spawn.ts): a pipe to us, ours (inherit), or /dev/null. */
export interface WorkerStdio {
  readonly stdout: 'pipe' | 'inherit' | 'ignore';
  readonly stderr: 'pipe' | 'ignore';
}

export interface WorkerPipes {
  readonly stdout?: Readable | null;
  readonly stderr?: Readable | null;
}

export interface WorkerOrigin {
  /** The worker's slot in its pool, as the worker log marks it (`worker=3`). */
  readonly workerIndex: number;
  readonly pid: number;
}

export interface WorkerOutput {
  /** Resolves at the end of every captured pipe of this worker, after its last line was handed to the sink. */
  readonly done: Promise<void>;
  /** The last non-empty line the worker wrote to stderr so far; undefined when there was none or it was not read. */
  lastStderrLine(): string | undefined;
}

/** What one pool's workers need of the logs: how to open a worker's stdio, and where its pipes go. */
export interface WorkerOutputs {
  readonly workerStdio: WorkerStdio;
  /** Captures the pipes of a worker just spawned with `workerStdio`. Call it in the same turn as the spawn:
   *  execa resumes a pipe that nobody reads on the next turn (buffer: false), and what it reads is lost. */
  attachWorker(pipes: WorkerPipes, origin: WorkerOrigin): WorkerOutput;
}

/** A pool's worker output, opened for it; released when the pool is gone. */
export interface PoolOutput extends WorkerOutputs {
  /** Where the workers' output goes, as a person would look for it. */
  readonly location: string;
  /** Lines dropped because the worker log could not be written (a file shared by pools counts for all of them). */
  droppedLines(): number;
  release(): Promise<void>;
}

export interface Logs {
  /** The supervisor log. Its reopen() reopens every log file (SIGUSR1); its close() is Logs.close(). */
  readonly logger: Logger;
  /** The supervisor log's file; undefined when it goes to stderr. */
  readonly logFile?: string;
  /** Opens the pool's worker log (a file shared with other pools naming it, ours, or none); rejects with a one-line CliError. */
  openWorkerOutput(pool: PoolConfig): Promise<PoolOutput>;
  /** Resolves when every attached pipe has ended, or after `withinMs`: a grandchild may hold a pipe for ever. */
  outputEnded(withinMs: number): Promise<void>;
  /** Reopens every log file by name (logrotate `create` mode), then logs what it reopened. */
  reopen(): Promise<void>;
  /** Waits (bounded) for the workers' pipes to end, flushes and closes the worker logs, then the supervisor log. */
  close(): Promise<void>;
}

export interface OpenLogsOptions {
  /** In the foreground the supervisor log defaults to stderr and worker output to `inherit`. */
  readonly foreground: boolean;
  /** Files used when the config names none (a daemon's `<name>.log`, `<name>.workers.log`). */
  readonly defaultLogFile?: string;
  readonly defaultWorkerLog?: string;
  /** Whether our stderr is systemd's journal (default: stderrIsJournal()). */
  readonly journal?: boolean;
}

/** How long close() waits for the workers' pipes to end after they exited. */
export const OUTPUT_END_MS = 1000;
/** The start-failure message quotes at most this much of a worker's last stderr line. */
const LAST_LINE_LIMIT = 512;

function usage(message: string): CliError {
  return new CliError(message, START_EXIT.usage);
}

/** Where a pool's worker output goes in this mode; a format for output that is not a file is refused (nothing silent). */
export function workerLogTarget(pool: PoolConfig, options: OpenLogsOptions): WorkerLogTarget {
  const workerPath = options.defaultWorkerLog;
  const target: WorkerLogTarget | undefined =
    pool.workerLog ?? (workerPath !== undefined ? { kind: 'file', path: workerPath } : options.foreground ? { kind: 'inherit' } : undefined);
  if (target === undefined) throw usage('a daemon has no terminal for worker output: pass --worker-log PATH (or none)');
  if (pool.workerLogFormat !== undefined && target.kind !== 'file') {
    throw usage(`--worker-log-format '${pool.workerLogFormat}' applies to a worker log file: worker output is ${target.kind === 'inherit' ? 'inherited' : 'discarded'}; pass --worker-log PATH`);
  }
  return target;
}

/** The supervisor log's file in this mode (undefined: stderr), checked with every pool's worker log. */
export function resolveLogFile(supervisor: SupervisorConfig, pools: readonly PoolConfig[], options: OpenLogsOptions): string | undefined {
  const logFile = supervisor.logFile ?? options.defaultLogFile;
  if (logFile === undefined && !options.foreground) throw usage('a daemon has no terminal for its log: pass --log-file PATH');
  const targets = pools.map((pool) => workerLogTarget(pool, options));
  for (const target of targets) {
    if (target.kind === 'file' && target.path === logFile) throw usage(`--log-file and --worker-log name the same file '${logFile}': give each log its own file`);
  }
  const rotation = supervisor.logMaxSize !== undefined ? '--log-max-size' : supervisor.logMaxFiles !== undefined ? '--log-max-files' : undefined;
  if (rotation !== undefined && logFile === undefined && !targets.some((target) => target.kind === 'file')) {
    throw usage(`${rotation} applies to log files, and there is none: pass --log-file PATH or --worker-log PATH`);
  }
  return logFile;
}

/**
 * systemd.exec(5): JOURNAL_STREAM holds `DEVICE:INODE` of the stream stderr was connected to. A process whose
 * stderr was redirected still inherits the variable, so compare it with what fd 2 is now.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.JOURNAL_STREAM;
  if (!value) return false;
  try {
    const stat = fstatSync(2);
    return value === `${stat.dev}:${stat.ino}`;
  } catch {
    return false;
  }
}

/** Opens the supervisor log; rejects with a one-line CliError (exit 2) when it cannot be opened. Worker logs open per pool. */
export async function openLogs(supervisor: SupervisorConfig, pools: readonly PoolConfig[], options: OpenLogsOptions): Promise<Logs> {
  const logFile = resolveLogFile(supervisor, pools, options);
  const rotation = { maxSize: supervisor.logMaxSize, maxFiles: supervisor.logMaxFiles ?? DEFAULT_LOG_MAX_FILES };
  // Files whose last reopen was refused (safe-open.ts): not listed as reopened.
  const refused = new Set<string>();
  const supervisorLog = await explained('--log-file', () =>
    createSupervisorLogger({
      level: supervisor.logLevel,
      format: supervisor.logFormat,
      journal: options.journal ?? stderrIsJournal(),
      onRefused: (error) => refused.add(error.path),
      ...(logFile !== undefined ? { file: { path: logFile, ...rotation } } : {}),
    }),
  );
  return new OpenedLogs(supervisorLog, logFile, rotation, options, refused);
}

/** `unable to open log file X: ENOENT (no such file or directory)` + what to do, as a usage error. */
async function explained<T>(option: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    // Typed: commands/ gives it its own exit code.
    if (error instanceof LogFileRefusedError) throw error;
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    const hints: Readonly<Record<string, string>> = {
      ENOENT: `create its directory or choose another ${option}`,
      ENOTDIR: `part of its directory path is a file: choose another ${option}`,
      EACCES: `uid ${process.geteuid?.() ?? '?'} cannot write there: choose another ${option}`,
    };
    const hint = hints[code ?? ''] ?? `choose another ${option}`;
    throw usage(`${describeError(error)}; ${hint}`);
  }
}

interface SharedSink {
  readonly sink: LineSink;
  readonly name: string;
  users: number;
}

const INHERIT = '\0inherit';

class OpenedLogs implements Logs {
  readonly logger: Logger;
  readonly logFile?: string;
  private readonly open = new Set<Promise<void>>();
  /** One sink per file (pools naming the same file share it), and one for inherited output. */
  private readonly sinks = new Map<string, SharedSink>();
  /** Sinks of released pools still flushing. */
  private readonly ending = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly supervisorLog: SupervisorLogger,
    logFile: string | undefined,
    private readonly rotation: { readonly maxSize: number | undefined; readonly maxFiles: number },
    private readonly options: OpenLogsOptions,
    private readonly refused: Set<string>,
  ) {
    if (logFile !== undefined) this.logFile = logFile;
    this.logger = {
      log: (level, message, fields) => supervisorLog.log(level, message, fields),
      reopen: () => void this.reopen(),
      close: () => this.close(),
    };
  }

  async openWorkerOutput(pool: PoolConfig): Promise<PoolOutput> {
    const target = workerLogTarget(pool, this.options);
    const shared = target.kind === 'none' ? null : await this.sharedSink(target);
    const workerStdio: WorkerStdio =
      target.kind === 'file' ? { stdout: 'pipe', stderr: 'pipe' } : target.kind === 'inherit' ? { stdout: 'inherit', stderr: 'pipe' } : { stdout: 'ignore', stderr: 'ignore' };
    // Only stderr is piped with inherit, written raw; a file gets the pool's format.
    const format: WorkerLogFormat = target.kind === 'file' ? (pool.workerLogFormat ?? 'text') : 'raw';
    const poolName = pool.name === 'default' ? undefined : pool.name;
    let released = false;
    const location = target.kind === 'file' ? target.path : target.kind === 'inherit' ? "the supervisor's stderr" : 'discarded (worker log none)';
    return {
      workerStdio,
      location,
      droppedLines: () => shared?.sink.stats().droppedLines ?? 0,
      attachWorker: (pipes, origin) => this.attach(pipes, { ...origin, ...(poolName !== undefined ? { pool: poolName } : {}) }, shared?.sink ?? null, format),
      release: async () => {
        if (released || shared === null) return;
        released = true;
        // The pool's workers exited, but their pipes may still hold lines: read them before letting go.
        await this.outputEnded(OUTPUT_END_MS);
        shared.users -= 1;
        if (shared.users === 0 && this.closing === null) {
          this.sinks.delete([...this.sinks].find(([, s]) => s === shared)?.[0] ?? '');
          // close() waits for it: a rotation cut short by our exit would lose a file.
          const ending = shared.sink.end();
          this.ending.add(ending);
          await ending;
        }
      },
    };
  }

  private async sharedSink(target: Exclude<WorkerLogTarget, { kind: 'none' }>): Promise<SharedSink> {
    const key = target.kind === 'file' ? target.path : INHERIT;
    const existing = this.sinks.get(key);
    if (existing) {
      existing.users += 1;
      return existing;
    }
    const name = target.kind === 'file' ? target.path : 'stderr';
    const faults = {
      onError: (error: NodeJS.ErrnoException) =>
        this.supervisorLog.log('error', `unable to write worker log ${name}: ${describeErrno(error)}; dropping worker output until it works again, workers keep running`),
      onRecover: (recovery: SinkRecovery) =>
        this.supervisorLog.log('warn', `worker log ${name} writable again`, {
          cause: recovery.error.code ?? recovery.error.message,
          down_ms: recovery.downMs,
          dropped_lines: recovery.droppedLines,
        }),
      onRefused: (error: LogFileRefusedError) => {
        this.refused.add(error.path);
        this.supervisorLog.log('error', `${error.message}; worker output still goes to the file opened before`);
      },
    };
    const sink =
      target.kind === 'file'
        ? await explained('--worker-log', () => openRotatingFile({ path: target.path, ...this.rotation, ...faults }))
        : // One sink for every worker keeps whole lines from mixing on our stderr.
          new StreamSink(process.stderr, { ...faults, endStream: false });
    const shared = { sink, name, users: 1 };
    this.sinks.set(key, shared);
    return shared;
  }

  private attach(pipes: WorkerPipes, origin: WorkerOrigin & { readonly pool?: string }, sink: LineSink | null, format: WorkerLogFormat): WorkerOutput {
    const captures: Promise<unknown>[] = [];
    let stderr: WorkerOutputCapture | undefined;
    for (const streamName of ['stdout', 'stderr'] as const) {
      const stream = pipes[streamName];
      if (!stream) continue;
      const capture = this.capture(stream, streamName, origin, sink, format);
      captures.push(capture.done);
      if (streamName === 'stderr') stderr = capture;
    }
    const done = Promise.all(captures).then(() => undefined);
    this.open.add(done);
    void done.then(() => this.open.delete(done));
    return {
      done,
      lastStderrLine: () => {
        const line = stderr?.lastLine();
        return line !== undefined && line.length > LAST_LINE_LIMIT ? `${line.slice(0, LAST_LINE_LIMIT)}…` : line;
      },
    };
  }

  async outputEnded(withinMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, withinMs);
    });
    await Promise.race([Promise.all([...this.open]), deadline]);
    clearTimeout(timer);
  }

  async reopen(): Promise<void> {
    if (this.closing !== null) return;
    const started = performance.now();
    this.refused.clear();
    const files = [...this.sinks.entries()].filter(([key]) => key !== INHERIT);
    await Promise.all([this.supervisorLog.reopen(), ...files.map(([, shared]) => shared.sink.reopen())]);
    // A file that failed to open again was reported by its sink (onError, onRefused); list only what works.
    const reopened = [
      ...(this.logFile !== undefined ? [this.logFile] : []),
      ...files.filter(([, shared]) => !shared.sink.stats().failing).map(([path]) => path),
    ].filter((file) => !this.refused.has(file));
    const took = { took_ms: Math.round(performance.now() - started) };
    if (reopened.length > 0) this.supervisorLog.log('info', `log files reopened: ${reopened.join(', ')}`, took);
    else if (this.refused.size === 0) this.supervisorLog.log('info', 'no log file to reopen (logging to stderr)');
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private capture(stream: Readable, streamName: WorkerStreamName, origin: WorkerOrigin & { readonly pool?: string }, sink: LineSink | null, format: WorkerLogFormat): WorkerOutputCapture {
    if (sink === null) {
      // Not expected (a pipe with worker output to none); read and discard rather than stall the worker.
      stream.resume();
      return { done: new Promise((resolve) => stream.once('close', () => resolve({ bytes: 0, cutPieces: 0 }))), lastLine: () => undefined };
    }
    const capture = captureWorkerOutput({ stream, streamName, ...(origin.pool !== undefined ? { pool: origin.pool } : {}), workerIndex: origin.workerIndex, pid: origin.pid, sink, format });
    void capture.done.then((result) => {
      if (result.error) this.supervisorLog.log('warn', `worker ${origin.pid} ${streamName} pipe failed: ${result.error.message}`);
    });
    return capture;
  }

  private async shutDown(): Promise<void> {
    await this.outputEnded(OUTPUT_END_MS);
    await Promise.all(this.ending);
    for (const shared of this.sinks.values()) {
      await shared.sink.end();
      const { droppedLines, droppedBytes } = shared.sink.stats();
      if (droppedLines > 0) {
        this.supervisorLog.log('warn', `worker output dropped while ${shared.name} could not be written`, { dropped_lines: droppedLines, dropped_bytes: droppedBytes });
      }
    }
    this.sinks.clear();
    await this.supervisorLog.close();
  }
}
