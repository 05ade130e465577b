/**
 * The supervisor's own log, through winston (the only winston import with winston-transport.ts; load this module
 * lazily, only on the paths that log: DESIGN.md "CLI start-up").
 *
 * Text: `2026-11-24T10:00:00.123Z fcgi-spawn[4200]: info: worker ready pid=4211 slot=0`.
 * Under systemd (journal: true) and logging to stderr, a line carries no timestamp nor pid (the journal records
 * both) and starts with the syslog priority, `<6>info: worker ready …`, which journald strips and uses as the
 * entry's priority (systemd.exec, SyslogLevelPrefix=, on by default). A log file always gets timestamps.
 * JSON: one object per line, `{"time":…,"level":…,"pid":…,"message":…, …fields}`.
 *
 * winston's own File transport is not used for rotation: it names rotated files `name1.log` (or shifts them with
 * `tailable`), and decides to rotate after a write was accepted ("This gets called too early", its file.js), so a
 * file overshoots its size. Instead winston writes through a transport into our RotatingFile (rotating-file.ts).
 */
import type { Writable } from 'node:stream';
import winston from 'winston';
import type { SupervisorLogFormat } from '../config/log-values.js';
import { formatFields, type LogFields, type LogLevel, type Logger } from './logger.js';
import { openRotatingFile } from './rotating-file.js';
import type { LogFileRefusedError } from './safe-open.js';
import { describeErrno, type LineSink, type SinkRecovery } from './sink.js';
import { StreamSink } from './stream-sink.js';
import { SinkTransport } from './winston-transport.js';
import { IMMEDIATE } from './write-coalescing.js';

export type { SupervisorLogFormat };

export interface SupervisorLogFile {
  readonly path: string;
  /** Bytes; 0 or absent: no size rotation (logrotate and reopen() only). */
  readonly maxSize?: number;
  readonly maxFiles?: number;
}

export interface SupervisorLogOptions {
  readonly level: LogLevel;
  readonly format: SupervisorLogFormat;
  readonly file?: SupervisorLogFile;
  /** Under systemd (JOURNAL_STREAM set): no timestamps on stderr, syslog priority prefixes instead. */
  readonly journal: boolean;
  /** Destination without a file (default process.stderr). */
  readonly stream?: Writable;
  /** Told once when the log file becomes unwritable (default: one line on stderr). */
  readonly onSinkError?: (message: string) => void;
  /** Told when a reopen or rotation of the file was refused (safe-open.ts), besides the line it logs. */
  readonly onRefused?: (error: LogFileRefusedError) => void;
}

const LEVELS: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };
const SYSLOG_PRIORITY: Readonly<Record<LogLevel, number>> = { error: 3, warn: 4, info: 6, debug: 7 };
/** The supervisor log is small; while its file fails, keep at most this much (sink.ts). */
const SUPERVISOR_MAX_QUEUED = 1024 * 1024;

interface Entry {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields | undefined;
}

function toEntry(info: winston.Logform.TransformableInfo): Entry {
  return { level: info.level as LogLevel, message: String(info.message), fields: info['fields'] as LogFields | undefined };
}

function textLine(entry: Entry, journal: boolean): string {
  const rest = `${entry.level}: ${entry.message}${formatFields(entry.fields)}`;
  if (journal) return `<${SYSLOG_PRIORITY[entry.level]}>${rest}`;
  return `${new Date().toISOString()} fcgi-spawn[${process.pid}]: ${rest}`;
}

function jsonLine(entry: Entry): string {
  const head = { time: new Date().toISOString(), level: entry.level, pid: process.pid, message: entry.message };
  return JSON.stringify({ ...entry.fields, ...head });
}

interface SinkReports {
  readonly report: (message: string) => void;
  readonly recovered: (recovery: SinkRecovery) => void;
  readonly refused: (error: LogFileRefusedError) => void;
}

async function openSink(options: SupervisorLogOptions, reports: SinkReports): Promise<LineSink> {
  const file = options.file;
  const describe = (error: NodeJS.ErrnoException): string =>
    `fcgi-spawn: unable to write log ${file?.path ?? 'stream'}: ${describeErrno(error)}; dropping lines until it works again`;
  const handlers = {
    maxQueued: SUPERVISOR_MAX_QUEUED,
    onError: (error: NodeJS.ErrnoException) => reports.report(describe(error)),
    onRecover: reports.recovered,
    onRefused: reports.refused,
  };
  if (file === undefined) return new StreamSink(options.stream ?? process.stderr, { ...handlers, endStream: false });
  return openRotatingFile({ path: file.path, maxSize: file.maxSize, maxFiles: file.maxFiles, coalescing: IMMEDIATE, ...handlers });
}

/** A Logger whose reopen() can be awaited: it resolves when the file was opened again (or failed to, as reported). */
export interface SupervisorLogger extends Logger {
  reopen(): Promise<void>;
}

/** Opens the log; rejects with a one-line error when the file cannot be opened (start-up: exit with a usage code). */
export async function createSupervisorLogger(options: SupervisorLogOptions): Promise<SupervisorLogger> {
  const report = options.onSinkError ?? ((message: string) => void process.stderr.write(`${message}\n`));
  let recovered = (recovery: SinkRecovery): void => void recovery;
  let refused = (error: LogFileRefusedError): void => void error;
  const sink = await openSink(options, { report, recovered: (recovery) => recovered(recovery), refused: (error) => refused(error) });
  const journal = options.journal && options.file === undefined;
  const line = winston.format.printf((info) =>
    options.format === 'json' ? jsonLine(toEntry(info)) : textLine(toEntry(info), journal),
  );
  const logger = winston.createLogger({
    levels: LEVELS,
    level: options.level,
    format: line,
    transports: [new SinkTransport(sink)],
    exitOnError: false,
  });
  let closed: Promise<void> | null = null;
  recovered = (recovery) => logRecovery(logger, recovery);
  // The file opened before stays in use, so the log itself can tell.
  refused = (error) => {
    logger.log({ level: 'error', message: `${error.message}; still logging to the file opened before`, fields: undefined });
    options.onRefused?.(error);
  };

  return {
    log(level, message, fields) {
      if (closed === null) logger.log({ level, message, fields });
    },
    reopen() {
      return sink.reopen();
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        logger.once('finish', resolve);
        logger.end();
      }).then(() => sink.end());
      return closed;
    },
  };
}

function logRecovery(logger: winston.Logger, recovery: SinkRecovery): void {
  logger.log({
    level: 'warn',
    message: 'log writable again',
    fields: { cause: recovery.error.code ?? recovery.error.message, down_ms: recovery.downMs, dropped_lines: recovery.droppedLines },
  });
}
