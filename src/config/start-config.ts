/**
 * `start`'s options as typed → a complete, checked StartConfig, or a CliError with the exit code of
 * the problem. Everything that can be known before binding is checked here.
 */
import { CliError, START_EXIT } from '../errors.js';
import { lookupGroup, lookupUser, type PasswdEntry } from '../os/libc.js';
import { resolveProgram } from '../os/executable.js';
import { tcpFamily, UNIX_PATH_MAX, type ListenAddress } from '../os/sockaddr.js';
import { buildLogSettings, type LogSettings, type RawLogOptions } from './log-config.js';
import type { BlockingMode } from '../core/pool.js';
import {
  InvalidValueError,
  parseChoice,
  parseEnvAssignment,
  parseInteger,
  parseOctalMode,
  parsePort,
  parseSeconds,
  parseSignal,
} from './values.js';
import { resolve } from 'node:path';
import { defaultName, validateName } from '../control/run-dir.js';
import { statSync } from 'node:fs';

/** commander's view of `start`'s options: strings as typed, or undefined. */
export interface RawStartOptions extends RawLogOptions {
  readonly address?: string;
  readonly port?: string;
  readonly socket?: string;
  readonly backlog?: string;
  readonly socketMode?: string;
  readonly socketUser?: string;
  readonly socketGroup?: string;
  readonly workers?: string;
  readonly phpChildren?: string;
  readonly chdir?: string;
  readonly user?: string;
  readonly group?: string;
  readonly allowRoot?: boolean;
  readonly umask?: string;
  readonly env?: readonly string[];
  readonly fd?: string;
  readonly blocking?: string;
  readonly startRetries?: string;
  readonly startTimeout?: string;
  readonly startSecs?: string;
  readonly stopSignal?: string;
  readonly stopTimeout?: string;
  readonly gracefulTimeout?: string;
  readonly steerGrace?: string;
  readonly daemon?: boolean;
  readonly daemonized?: boolean;
  readonly name?: string;
  readonly pidfile?: string;
}

export interface WorkerIdentity {
  readonly uid: number;
  readonly gid: number;
  /** The passwd name whose groups initgroups() gives the worker, when the uid has one. */
  readonly userName?: string;
}

/** The log settings (log-config.ts) are part of it: logLevel, logFile, workerLog, … */
export interface StartConfig extends LogSettings {
  readonly address: ListenAddress;
  readonly backlog: number;
  readonly socketMode: number;
  readonly socketUid?: number;
  readonly socketGid?: number;
  readonly workers: number;
  readonly program: string;
  readonly programPath: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly identity?: WorkerIdentity;
  readonly umask?: number;
  readonly fd: 0 | 3;
  readonly blocking: BlockingMode;
  readonly startRetries: number;
  readonly startTimeoutMs: number;
  readonly startSecsMs: number;
  readonly stopSignal: NodeJS.Signals;
  readonly stopTimeoutMs: number;
  readonly gracefulTimeoutMs: number;
  readonly steerGraceMs: number;
  readonly daemon: boolean;
  /** This process is the daemon started by `start` (internal). */
  readonly daemonized: boolean;
  readonly name: string;
  readonly extraPidfile?: string;
}

export interface StartContext {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly euid: number;
}

function usage(message: string): CliError {
  return new CliError(message, START_EXIT.usage);
}

function checked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InvalidValueError || error instanceof Error) throw usage(error.message);
    throw error;
  }
}

function listenAddress(raw: RawStartOptions, cwd: string): ListenAddress {
  if (raw.socket !== undefined) {
    if (raw.port !== undefined) throw usage(`--socket '${raw.socket}' and --port '${raw.port}' exclude each other: pick one`);
    if (raw.address !== undefined) throw usage(`--address '${raw.address}' applies to TCP only, not to --socket '${raw.socket}'`);
    const path = resolve(cwd, raw.socket);
    if (Buffer.byteLength(path) > UNIX_PATH_MAX) {
      throw usage(`invalid --socket '${raw.socket}': the path must be at most ${UNIX_PATH_MAX} bytes long`);
    }
    return { kind: 'unix', path };
  }
  if (raw.port === undefined) throw usage('no address to bind: pass -p PORT (with -a ADDRESS) or -s PATH');
  const host = raw.address ?? '127.0.0.1';
  checked(() => tcpFamily(host));
  return { kind: 'tcp', host, port: checked(() => parsePort(raw.port as string)) };
}

function userEntry(option: string, value: string): PasswdEntry {
  const entry = /^\d+$/.test(value) ? (lookupUser(Number(value)) ?? { name: '', uid: Number(value), gid: NaN }) : lookupUser(value);
  if (!entry) throw usage(`unknown ${option} '${value}': no such user`);
  return entry;
}

function groupId(option: string, value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const entry = lookupGroup(value);
  if (!entry) throw usage(`unknown ${option} '${value}': no such group`);
  return entry.gid;
}

function rootOnly(raw: RawStartOptions, euid: number): void {
  if (euid === 0) return;
  const given = (['user', 'group', 'socketUser', 'socketGroup'] as const).filter((key) => raw[key] !== undefined);
  if (given.length > 0) {
    const flags = given.map((key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
    throw new CliError(`${flags} need root: fcgi-spawn runs as uid ${euid} and cannot switch users`, START_EXIT.permissionDenied);
  }
}

function workerIdentity(raw: RawStartOptions, euid: number): WorkerIdentity | undefined {
  if (raw.user === undefined) {
    if (raw.group !== undefined) throw usage(`--group '${raw.group}' needs --user: name the user the workers run as`);
    if (euid === 0 && !raw.allowRoot) {
      throw usage('refusing to run workers as root: pass -u USER (e.g. -u www-data), or --allow-root if you mean it');
    }
    return undefined;
  }
  const user = userEntry('--user', raw.user);
  const gid = raw.group !== undefined ? groupId('--group', raw.group) : user.gid;
  if (Number.isNaN(gid)) throw usage(`--user '${raw.user}' has no passwd entry: pass -g GROUP too`);
  if ((user.uid === 0 || gid === 0) && !raw.allowRoot) {
    throw usage(`refusing to run workers as ${user.uid === 0 ? 'root' : 'group root'}: pass --allow-root if you mean it`);
  }
  return { uid: user.uid, gid, ...(user.name ? { userName: user.name } : {}) };
}

function workerEnv(raw: RawStartOptions, context: StartContext, fd: 0 | 3): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(context.env)) if (value !== undefined) env[key] = value;
  // Our own activation variables are not the workers'; --fd 3 sets its own.
  for (const key of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET']) delete env[key];
  for (const assignment of raw.env ?? []) {
    const [key, value] = checked(() => parseEnvAssignment(assignment));
    env[key] = value;
  }
  if (raw.phpChildren !== undefined) env.PHP_FCGI_CHILDREN = String(checked(() => parseInteger('--php-children', raw.phpChildren as string, 0, 10_000)));
  if (fd === 3) {
    env.LISTEN_FDS = '1';
    env.LISTEN_FDNAMES = 'fcgi-spawn';
  }
  return env;
}

function workingDirectory(raw: RawStartOptions, cwd: string): string {
  if (raw.chdir === undefined) return cwd;
  const dir = resolve(cwd, raw.chdir);
  try {
    if (statSync(dir).isDirectory()) return dir;
  } catch {
    // Reported below.
  }
  throw usage(`invalid --chdir '${raw.chdir}': not a directory`);
}

export function buildStartConfig(raw: RawStartOptions, command: readonly string[], context: StartContext): StartConfig {
  const [program, ...args] = command;
  if (program === undefined || program === '') throw usage('no worker command: give it after --, e.g. fcgi-spawn start -p 9005 -- php-cgi');
  rootOnly(raw, context.euid);
  const address = listenAddress(raw, context.cwd);
  const identity = workerIdentity(raw, context.euid);
  const cwd = workingDirectory(raw, context.cwd);
  const fd = checked(() => parseChoice('--fd', raw.fd ?? '0', ['0', '3'] as const)) === '3' ? 3 : 0;
  const env = workerEnv(raw, context, fd);
  const resolved = resolveProgram(program, cwd, env.PATH);
  if (!resolved.found) {
    const what = resolved.reason === 'not-found' ? 'not found' : 'not executable';
    throw new CliError(
      `worker program '${program}' ${what} (tried ${resolved.tried.join(', ')})`,
      resolved.reason === 'not-found' ? START_EXIT.usage : START_EXIT.permissionDenied,
    );
  }
  const socketUid = raw.socketUser !== undefined ? userEntry('--socket-user', raw.socketUser).uid : identity?.uid;
  const socketGid = raw.socketGroup !== undefined ? groupId('--socket-group', raw.socketGroup) : identity?.gid;
  return {
    address,
    backlog: checked(() => parseInteger('--backlog', raw.backlog ?? '1024', 1, 1_000_000)),
    socketMode: checked(() => parseOctalMode('--socket-mode', raw.socketMode ?? '0660', 0o777)),
    ...(socketUid !== undefined ? { socketUid } : {}),
    ...(socketGid !== undefined ? { socketGid } : {}),
    workers: checked(() => parseInteger('--workers', raw.workers ?? '1', 1, 4096)),
    program,
    programPath: resolved.path,
    args,
    env,
    cwd,
    ...(identity ? { identity } : {}),
    ...(raw.umask !== undefined ? { umask: checked(() => parseOctalMode('--umask', raw.umask as string, 0o777)) } : {}),
    fd,
    blocking: checked(() => parseChoice('--blocking', raw.blocking ?? 'auto', ['auto', 'blocking', 'nonblocking'] as const)),
    startRetries: checked(() => parseInteger('--start-retries', raw.startRetries ?? '3', 0, 1000)),
    startTimeoutMs: checked(() => parseSeconds('--start-timeout', raw.startTimeout ?? '30')),
    startSecsMs: checked(() => parseSeconds('--start-secs', raw.startSecs ?? '1')),
    stopSignal: checked(() => parseSignal('--stop-signal', raw.stopSignal ?? 'TERM')),
    stopTimeoutMs: checked(() => parseSeconds('--stop-timeout', raw.stopTimeout ?? '10')),
    gracefulTimeoutMs: checked(() => parseSeconds('--graceful-timeout', raw.gracefulTimeout ?? '30')),
    steerGraceMs: checked(() => parseSeconds('--steer-grace', raw.steerGrace ?? '1', 60)),
    daemon: raw.daemon ?? true,
    daemonized: raw.daemonized === true,
    name: raw.name !== undefined ? checked(() => validateName(raw.name as string)) : defaultName(address),
    ...(raw.pidfile !== undefined ? { extraPidfile: resolve(context.cwd, raw.pidfile) } : {}),
    ...checked(() => buildLogSettings(raw, context.cwd)),
  };
}
