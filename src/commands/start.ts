/**
 * `fcgi-spawn start`: parse, cross-check, bind, spawn, supervise — in the order things happen.
 * Start-up fails fast with the exit code of the problem; once running, the supervisor keeps serving.
 */
import { buildStartConfig, type RawStartOptions, type StartConfig } from '../config/start-config.js';
import { CliError, START_EXIT, describeError } from '../errors.js';
import { openLogs, type Logs } from '../log/setup.js';
import { ensureLogDirectory, LogFileRefusedError } from '../log/safe-open.js';
import { ListenSocket, SocketPathError } from '../os/listen-socket.js';
import { removeAbandonedTemporaries } from '../os/socket-place.js';
import { closeInheritedOnExec, SyscallError } from '../os/libc.js';
import { canObserveSyscalls } from '../os/proc.js';
import { formatAddress } from '../os/sockaddr.js';
import type { PoolPolicy } from '../core/pool.js';
import { servePool } from '../runtime/serve.js';
import { claimInstance, PublishedInstance } from '../control/instance.js';
import { ensureRunDirectory, runDirectory } from '../control/run-dir.js';
import { DAEMON_FLAG, detachFromLauncher, launchDaemon, reportToLauncher } from '../control/daemonize.js';
import { homedir } from 'node:os';
import { join } from 'node:path';

function bindFailure(error: unknown, address: string): CliError {
  if (error instanceof SocketPathError) {
    const hint = error.reason === 'in-use' ? `; is another instance running? see 'fcgi-spawn status -s ${error.path}'` : '';
    return new CliError(`unable to bind ${address}: ${error.message}${hint}`, START_EXIT.cannotBind);
  }
  if (error instanceof SyscallError) {
    const cause = `${error.code} (${error.description})`;
    if (error.code === 'EACCES' || error.code === 'EPERM') {
      const hint = address.includes('/') ? '; check the permissions of its directory' : '; ports below 1024 need root or CAP_NET_BIND_SERVICE';
      return new CliError(`unable to ${error.syscall} ${address}: ${cause}${hint}`, START_EXIT.permissionDenied);
    }
    const hint = error.code === 'EADDRINUSE' ? `; is another instance running? see 'fcgi-spawn status'` : '';
    return new CliError(`unable to ${error.syscall} ${address}: ${cause}${hint}`, START_EXIT.cannotBind);
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EPERM' || code === 'EACCES') return new CliError(`unable to set up ${address}: ${describeError(error)}`, START_EXIT.permissionDenied);
  return new CliError(`unable to bind ${address}: ${describeError(error)}`, START_EXIT.cannotBind);
}

export function unixOptions(config: StartConfig): { mode: number; uid?: number; gid?: number } {
  return {
    mode: config.socketMode,
    ...(config.socketUid !== undefined ? { uid: config.socketUid } : {}),
    ...(config.socketGid !== undefined ? { gid: config.socketGid } : {}),
  };
}

export function openSocket(config: StartConfig): ListenSocket {
  const name = formatAddress(config.address);
  try {
    if (config.address.kind === 'unix') {
      removeAbandonedTemporaries(config.address.path);
      return ListenSocket.openUnix(config.address, { backlog: config.backlog, ...unixOptions(config) });
    }
    return ListenSocket.openTcp(config.address, { backlog: config.backlog });
  } catch (error) {
    throw bindFailure(error, name);
  }
}

export function poolPolicy(config: StartConfig): PoolPolicy {
  return {
    workers: config.workers,
    startRetries: config.startRetries,
    startSecsMs: config.startSecsMs,
    startTimeoutMs: config.startTimeoutMs,
    procReadiness: canObserveSyscalls(),
    stopSignal: config.stopSignal,
    stopTimeoutMs: config.stopTimeoutMs,
    blockingMode: config.blocking,
    gracefulTimeoutMs: config.gracefulTimeoutMs,
    steerGraceMs: config.steerGraceMs,
    unixSocket: config.address.kind === 'unix',
  };
}

/** Where a daemon logs when no --log-file/--worker-log is given. */
export function logDirectory(env: NodeJS.ProcessEnv, euid: number): string {
  if (env.FCGI_SPAWN_LOG_DIR) return env.FCGI_SPAWN_LOG_DIR;
  if (euid === 0) return '/var/log/fcgi-spawn';
  const state = env.XDG_STATE_HOME ?? join(env.HOME ?? homedir(), '.local', 'state');
  return join(state, 'fcgi-spawn');
}

/**
 * A daemon's default log directory, created on demand, only inside directories no other user can
 * write (log/safe-open.ts). A user without a writable home (a system account) gets its run directory
 * instead: lost at reboot, but the daemon still starts and logs.
 */
async function defaultLogDirectory(euid: number): Promise<string> {
  const dir = logDirectory(process.env, euid);
  try {
    await ensureLogDirectory(dir, 0o750);
    return dir;
  } catch (error) {
    if (error instanceof LogFileRefusedError) throw error;
    if (process.env.FCGI_SPAWN_LOG_DIR || euid === 0) {
      throw new CliError(`unable to create log directory ${dir}: ${describeError(error)}; pass --log-file and --worker-log`, START_EXIT.usage);
    }
    const fallback = runDirectory({ env: process.env, euid });
    ensureRunDirectory(fallback, euid);
    return fallback;
  }
}

async function openInstanceLogs(config: StartConfig, euid: number): Promise<Logs> {
  if (!config.daemonized) return openLogs(config, { foreground: true });
  if (config.logFile !== undefined && config.workerLog !== undefined) return openLogs(config, { foreground: false });
  const dir = await defaultLogDirectory(euid);
  return openLogs(config, { foreground: false, defaultLogFile: join(dir, `${config.name}.log`), defaultWorkerLog: join(dir, `${config.name}.workers.log`) });
}

/** The foreground pool, or the daemon's: claim the name, bind, serve until stopped. */
async function runPool(config: StartConfig, argv: readonly string[], onReady: () => void): Promise<number> {
  const euid = process.geteuid?.() ?? -1;
  if (config.daemonized) detachFromLauncher();
  // Workers get the socket and their stdio, nothing else we happened to inherit.
  closeInheritedOnExec();
  // Logs first: a log directory that is missing or read-only fails start-up (exit 2), one another user could
  // write is refused (exit 4), before anything is bound.
  const logs = await openInstanceLogs(config, euid).catch((error: unknown) => {
    if (!(error instanceof LogFileRefusedError)) throw error;
    throw new CliError(`${error.message}; as uid ${euid} logs are written only where no other user can swap files (README: Security)`, START_EXIT.permissionDenied);
  });
  try {
    const claimed = await claimInstance({ name: config.name, env: process.env, euid, stopSignal: config.stopSignal, stopTimeoutMs: config.stopTimeoutMs, logger: logs.logger });
    const instance = new PublishedInstance(claimed, {
      address: formatAddress(config.address),
      argv,
      cwd: config.cwd,
      env: recordedEnvironment(),
      ...(config.extraPidfile ? { extraPidfile: config.extraPidfile } : {}),
    });
    const socket = openSocket(config);
    try {
      socket.setBlocking(config.blocking !== 'nonblocking');
      const served = await servePool({ config, policy: poolPolicy(config), socket, unixOptions: unixOptions(config), logs, claimed, instance, onReady });
      if (served.exit.code !== 0) {
        const reason = `${served.exit.reason ?? 'no worker became ready'}${served.lastStderrLine ? `; its last stderr line: ${served.lastStderrLine}` : ''}`;
        throw new CliError(`start failed: ${reason}`, served.exit.code);
      }
      logs.logger.log('info', 'stopped: every worker exited, socket closed');
      return START_EXIT.ready;
    } finally {
      socket.close();
    }
  } catch (error) {
    // The terminal gets the error from cli.ts; a log file gets it too, since it may be all that is read later.
    if (logs.logFile !== undefined) logs.logger.log('error', describeError(error));
    throw error;
  } finally {
    await logs.close();
  }
}

/** The launching environment, as `restart` must give it again (our own activation variables aside). */
function recordedEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'NOTIFY_SOCKET' && !key.startsWith('LISTEN_')) env[key] = value;
  return env;
}

/** `start`'s own arguments as typed, for the record (without the internal daemon flag). */
function recordedArguments(argv: readonly string[]): string[] {
  return argv.filter((arg) => arg !== DAEMON_FLAG);
}

export async function runStart(raw: RawStartOptions, command: readonly string[], argv: readonly string[] = []): Promise<number> {
  const config = buildStartConfig(raw, command, { cwd: process.cwd(), env: process.env, euid: process.geteuid?.() ?? -1 });
  if (config.daemonized) {
    try {
      return await runPool(config, recordedArguments(argv), () => reportToLauncher({ ok: true, pid: process.pid, name: config.name, address: formatAddress(config.address) }));
    } catch (error) {
      const code = error instanceof CliError ? error.exitCode : START_EXIT.runtimeFailure;
      reportToLauncher({ ok: false, code, message: describeError(error) });
      throw error;
    }
  }
  if (!config.daemon) return runPool(config, recordedArguments(argv), () => undefined);
  // Checked above in this process, so a usage error never starts a daemon; the daemon checks again.
  const handshake = await launchDaemon(process.argv[1] as string, recordedArguments(argv));
  if (!handshake.ok) throw new CliError(handshake.message, handshake.code);
  process.stdout.write(`fcgi-spawn: ${handshake.name} ready (pid ${handshake.pid}) on ${handshake.address}\n`);
  return START_EXIT.ready;
}
