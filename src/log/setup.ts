/**
 * The logs of one supervisor, built from its StartConfig: the supervisor's own log (supervisor-log.ts) and the
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
import { DEFAULT_LOG_MAX_FILES, type WorkerLogTarget } from '../config/log-config.js';
import type { StartConfig } from '../config/start-config.js';
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

export interface Logs {
  /** The supervisor log. Its reopen() reopens every log file (SIGUSR1); its close() is Logs.close(). */
  readonly logger: Logger;
  /** The supervisor log's file; undefined when it goes to stderr. */
  readonly logFile?: string;
  readonly workerStdio: WorkerStdio;
  /** Captures the pipes of a worker just spawned with `workerStdio`. Call it in the same turn as the spawn:
   *  execa resumes a pipe that nobody reads on the next turn (buffer: false), and what it reads is lost. */
  attachWorker(pipes: WorkerPipes, origin: WorkerOrigin): WorkerOutput;
  /** Resolves when every attached pipe has ended, or after `withinMs`: a grandchild may hold a pipe for ever. */
  outputEnded(withinMs: number): Promise<void>;
  /** Reopens every log file by name (logrotate `create` mode), then logs what it reopened. */
  reopen(): Promise<void>;
  /** Waits (bounded) for the workers' pipes to end, flushes and closes the worker log, then the supervisor log. */
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

export interface LogTargets {
  /** Undefined: stderr. */
  readonly logFile?: string;
  readonly workerLog: WorkerLogTarget;
}

/** How long close() waits for the workers' pipes to end after they exited. */
export const OUTPUT_END_MS = 1000;
/** The start-failure message quotes at most this much of a worker's last stderr line. */
const LAST_LINE_LIMIT = 512;

function usage(message: string): CliError {
  return new CliError(message, START_EXIT.usage);
}

/**
 * Where each log goes in this mode. Options that would have no effect are refused (nothing silent): a format
 * for a worker log that is not a file, a rotation for logs that are not files.
 */
export function resolveLogTargets(config: StartConfig, options: OpenLogsOptions): LogTargets {
  const logFile = config.logFile ?? options.defaultLogFile;
  const workerPath = options.defaultWorkerLog;
  const workerLog: WorkerLogTarget | undefined =
    config.workerLog ?? (workerPath !== undefined ? { kind: 'file', path: workerPath } : options.foreground ? { kind: 'inherit' } : undefined);
  if (logFile === undefined && !options.foreground) throw usage('a daemon has no terminal for its log: pass --log-file PATH');
  if (workerLog === undefined) throw usage('a daemon has no terminal for worker output: pass --worker-log PATH (or none)');
  if (config.workerLogFormat !== undefined && workerLog.kind !== 'file') {
    throw usage(`--worker-log-format '${config.workerLogFormat}' applies to a worker log file: worker output is ${workerLog.kind === 'inherit' ? 'inherited' : 'discarded'}; pass --worker-log PATH`);
  }
  const rotation = config.logMaxSize !== undefined ? '--log-max-size' : config.logMaxFiles !== undefined ? '--log-max-files' : undefined;
  if (rotation !== undefined && logFile === undefined && workerLog.kind !== 'file') {
    throw usage(`${rotation} applies to log files, and there is none: pass --log-file PATH or --worker-log PATH`);
  }
  return { ...(logFile !== undefined ? { logFile } : {}), workerLog };
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

/** Opens the logs; rejects with a one-line CliError (exit 2) when a file cannot be opened, leaving none open. */
export async function openLogs(config: StartConfig, options: OpenLogsOptions): Promise<Logs> {
  const targets = resolveLogTargets(config, options);
  const rotation = { maxSize: config.logMaxSize, maxFiles: config.logMaxFiles ?? DEFAULT_LOG_MAX_FILES };
  // Files whose last reopen was refused (safe-open.ts): not listed as reopened.
  const refused = new Set<string>();
  const supervisorLog = await explained('--log-file', () =>
    createSupervisorLogger({
      level: config.logLevel,
      format: config.logFormat,
      journal: options.journal ?? stderrIsJournal(),
      onRefused: (error) => refused.add(error.path),
      ...(targets.logFile !== undefined ? { file: { path: targets.logFile, ...rotation } } : {}),
    }),
  );
  const target = targets.workerLog;
  const name = target.kind === 'file' ? target.path : 'stderr';
  const faults = {
    onError: (error: NodeJS.ErrnoException) =>
      supervisorLog.log('error', `unable to write worker log ${name}: ${describeErrno(error)}; dropping worker output until it works again, workers keep running`),
    onRecover: (recovery: SinkRecovery) =>
      supervisorLog.log('warn', `worker log ${name} writable again`, {
        cause: recovery.error.code ?? recovery.error.message,
        down_ms: recovery.downMs,
        dropped_lines: recovery.droppedLines,
      }),
    onRefused: (error: LogFileRefusedError) => {
      refused.add(error.path);
      supervisorLog.log('error', `${error.message}; worker output still goes to the file opened before`);
    },
  };
  try {
    let sink: LineSink | null = null;
    if (target.kind === 'file') sink = await explained('--worker-log', () => openRotatingFile({ path: target.path, ...rotation, ...faults }));
    // Only stderr is piped with inherit; one sink for every worker keeps whole lines from mixing on our stderr.
    if (target.kind === 'inherit') sink = new StreamSink(process.stderr, { ...faults, endStream: false });
    return new OpenedLogs(supervisorLog, targets, sink, config.workerLogFormat ?? 'text', refused);
  } catch (error) {
    await supervisorLog.close();
    throw error;
  }
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

class OpenedLogs implements Logs {
  readonly logger: Logger;
  readonly logFile?: string;
  readonly workerStdio: WorkerStdio;
  private readonly open = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly supervisorLog: SupervisorLogger,
    private readonly targets: LogTargets,
    private readonly workerSink: LineSink | null,
    private readonly format: WorkerLogFormat,
    private readonly refused: Set<string>,
  ) {
    if (targets.logFile !== undefined) this.logFile = targets.logFile;
    const kind = targets.workerLog.kind;
    this.workerStdio =
      kind === 'file' ? { stdout: 'pipe', stderr: 'pipe' } : kind === 'inherit' ? { stdout: 'inherit', stderr: 'pipe' } : { stdout: 'ignore', stderr: 'ignore' };
    this.logger = {
      log: (level, message, fields) => supervisorLog.log(level, message, fields),
      reopen: () => void this.reopen(),
      close: () => this.close(),
    };
  }

  attachWorker(pipes: WorkerPipes, origin: WorkerOrigin): WorkerOutput {
    const captures: Promise<unknown>[] = [];
    let stderr: WorkerOutputCapture | undefined;
    for (const streamName of ['stdout', 'stderr'] as const) {
      const stream = pipes[streamName];
      if (!stream) continue;
      const capture = this.capture(stream, streamName, origin);
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
    await Promise.all([this.supervisorLog.reopen(), this.workerSink?.reopen()]);
    const worker = this.targets.workerLog;
    // A file that failed to open again was reported by its sink (onError, onRefused); list only what works.
    const files = [
      ...(this.targets.logFile !== undefined ? [this.targets.logFile] : []),
      ...(worker.kind === 'file' && !this.workerSink?.stats().failing ? [worker.path] : []),
    ].filter((file) => !this.refused.has(file));
    const took = { took_ms: Math.round(performance.now() - started) };
    if (files.length > 0) this.supervisorLog.log('info', `log files reopened: ${files.join(', ')}`, took);
    else if (this.refused.size === 0) this.supervisorLog.log('info', 'no log file to reopen (logging to stderr)');
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private capture(stream: Readable, streamName: WorkerStreamName, origin: WorkerOrigin): WorkerOutputCapture {
    const sink = this.workerSink;
    if (sink === null) {
      // Not expected (a pipe with worker output to none); read and discard rather than stall the worker.
      stream.resume();
      return { done: new Promise((resolve) => stream.once('close', () => resolve({ bytes: 0, cutPieces: 0 }))), lastLine: () => undefined };
    }
    const format = this.targets.workerLog.kind === 'file' ? this.format : 'raw';
    const capture = captureWorkerOutput({ stream, streamName, workerIndex: origin.workerIndex, pid: origin.pid, sink, format });
    void capture.done.then((result) => {
      if (result.error) this.supervisorLog.log('warn', `worker ${origin.pid} ${streamName} pipe failed: ${result.error.message}`);
    });
    return capture;
  }

  private async shutDown(): Promise<void> {
    await this.outputEnded(OUTPUT_END_MS);
    if (this.workerSink !== null) {
      await this.workerSink.end();
      const { droppedLines, droppedBytes } = this.workerSink.stats();
      if (droppedLines > 0) {
        this.supervisorLog.log('warn', 'worker output dropped while its log could not be written', { dropped_lines: droppedLines, dropped_bytes: droppedBytes });
      }
    }
    await this.supervisorLog.close();
  }
}
