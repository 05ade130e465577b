/**
 * `start`'s log options as typed → checked log settings (part of StartConfig). What only the mode can decide
 * (stderr or a file for the supervisor log, inherit or a file for worker output) is left undefined here and
 * resolved by log/setup.ts, which knows whether it runs in the foreground or as a daemon.
 */
import { resolve } from 'node:path';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { parseSize } from '../log/size.js';
import type { SupervisorLogFormat } from '../log/supervisor-log.js';
import { WORKER_LOG_FORMATS, type WorkerLogFormat } from '../log/worker-line-format.js';
import { InvalidValueError, parseChoice, parseInteger } from './values.js';
import type { WorkerLogTarget } from './types.js';

export type { WorkerLogTarget } from './types.js';

export interface RawLogOptions {
  readonly logLevel?: string;
  readonly logFile?: string;
  readonly logFormat?: string;
  readonly workerLog?: string;
  readonly workerLogFormat?: string;
  readonly logMaxSize?: string;
  readonly logMaxFiles?: string;
}

export interface LogSettings {
  readonly logLevel: LogLevel;
  /** Absolute path of the supervisor log; undefined: the mode's default (stderr in the foreground). */
  readonly logFile?: string;
  readonly logFormat: SupervisorLogFormat;
  /** Undefined: the mode's default (inherit in the foreground). */
  readonly workerLog?: WorkerLogTarget;
  /** Format of a worker log file; undefined: text. Given for inherit or none, it is an error. */
  readonly workerLogFormat?: WorkerLogFormat;
  /** Bytes; undefined: no size rotation (logrotate and SIGUSR1 only). Applies to both log files. */
  readonly logMaxSize?: number;
  /** Rotated files kept (PATH.1 … PATH.N); undefined: 5. */
  readonly logMaxFiles?: number;
}

export const DEFAULT_LOG_MAX_FILES = 5;

function logPath(option: string, value: string, cwd: string): string {
  if (value.trim() === '') throw new InvalidValueError(option, value, 'a file path');
  return resolve(cwd, value);
}

function workerLogTarget(value: string, cwd: string): WorkerLogTarget {
  // The words are keywords; a file of that name is written ./inherit or ./none.
  if (value === 'inherit' || value === 'none') return { kind: value };
  return { kind: 'file', path: logPath('--worker-log', value, cwd) };
}

function size(option: string, value: string): number {
  try {
    return parseSize(value);
  } catch {
    throw new InvalidValueError(option, value, 'a size in bytes, optionally with K, M or G (e.g. 10M)');
  }
}

/** Throws InvalidValueError or Error with a one-line message (start-config turns it into exit 2). */
export function buildLogSettings(raw: RawLogOptions, cwd: string): LogSettings {
  const logFile = raw.logFile !== undefined ? logPath('--log-file', raw.logFile, cwd) : undefined;
  const workerLog = raw.workerLog !== undefined ? workerLogTarget(raw.workerLog, cwd) : undefined;
  if (logFile !== undefined && workerLog?.kind === 'file' && workerLog.path === logFile) {
    throw new Error(`--log-file and --worker-log name the same file '${logFile}': give each log its own file`);
  }
  const workerLogFormat =
    raw.workerLogFormat !== undefined ? parseChoice('--worker-log-format', raw.workerLogFormat, WORKER_LOG_FORMATS) : undefined;
  if (workerLogFormat !== undefined && workerLog !== undefined && workerLog.kind !== 'file') {
    throw new Error(`--worker-log-format '${workerLogFormat}' applies to a --worker-log file, not to --worker-log ${workerLog.kind}`);
  }
  return {
    logLevel: parseChoice('--log-level', raw.logLevel ?? 'info', LOG_LEVELS),
    ...(logFile !== undefined ? { logFile } : {}),
    logFormat: parseChoice('--log-format', raw.logFormat ?? 'text', ['text', 'json'] as const),
    ...(workerLog !== undefined ? { workerLog } : {}),
    ...(workerLogFormat !== undefined ? { workerLogFormat } : {}),
    ...(raw.logMaxSize !== undefined ? { logMaxSize: size('--log-max-size', raw.logMaxSize) } : {}),
    ...(raw.logMaxFiles !== undefined ? { logMaxFiles: parseInteger('--log-max-files', raw.logMaxFiles, 0, 1000) } : {}),
  };
}
