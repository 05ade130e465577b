/**
 * `fcgi-spawn start`: parse, cross-check, bind, spawn, supervise — in the order things happen.
 * Start-up fails fast with the exit code of the problem; once running, the supervisor keeps serving.
 */
import { buildStartConfig, type RawStartOptions, type StartConfig } from '../config/start-config.js';
import { CliError, START_EXIT, describeError } from '../errors.js';
import { createStderrLogger, type Logger } from '../log/logger.js';
import { ListenSocket, SocketPathError } from '../os/listen-socket.js';
import { SyscallError } from '../os/libc.js';
import { canObserveSyscalls } from '../os/proc.js';
import { formatAddress } from '../os/sockaddr.js';
import type { PoolPolicy } from '../core/pool.js';
import { Supervisor } from '../runtime/supervisor.js';
import { WorkerPool } from '../runtime/worker-launcher.js';
import { PoolSockets } from '../os/pool-sockets.js';
import { wireSignals } from '../runtime/signals.js';

const OUTPUT_FLUSH_MS = 1000;

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

function unixOptions(config: StartConfig): { mode: number; uid?: number; gid?: number } {
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

async function supervise(config: StartConfig, socket: ListenSocket, logger: Logger): Promise<number> {
  const sockets = new PoolSockets(socket, config.backlog, unixOptions(config));
  const workers = new WorkerPool(config, sockets);
  const policy = poolPolicy(config);
  const supervisor = new Supervisor({
    policy,
    sockets,
    launcher: workers,
    logger,
    onStarted: () =>
      logger.log('info', `ready: ${config.workers} worker${config.workers === 1 ? '' : 's'} on ${socket.name}`, {
        pid: process.pid,
        address: socket.name,
      }),
  });
  const unwire = wireSignals((signal) => supervisor.enqueue({ type: 'signal', signal }));
  logger.log('info', `listening on ${socket.name}: starting ${config.workers} × ${config.program}`, {
    pid: process.pid,
    backlog: config.backlog,
    blocking: socket.blocking,
  });
  supervisor.start();
  const exit = await supervisor.finished;
  sockets.closeAll();
  await workers.outputEnded(OUTPUT_FLUSH_MS);
  unwire();
  if (exit.code !== 0) {
    const said = exit.failedSlot !== undefined ? workers.lastStderrLine(1, exit.failedSlot) : undefined;
    const reason = `${exit.reason ?? 'no worker became ready'}${said ? `; its last stderr line: ${said}` : ''}`;
    throw new CliError(`start failed: ${reason}`, exit.code);
  }
  logger.log('info', 'stopped: every worker exited, socket closed');
  return START_EXIT.ready;
}

export async function runStart(raw: RawStartOptions, command: readonly string[]): Promise<number> {
  const config = buildStartConfig(raw, command, { cwd: process.cwd(), env: process.env, euid: process.geteuid?.() ?? -1 });
  const logger = createStderrLogger({ level: config.logLevel, timestamps: process.env.JOURNAL_STREAM === undefined });
  const socket = openSocket(config);
  try {
    socket.setBlocking(config.blocking !== 'nonblocking');
    return await supervise(config, socket, logger);
  } finally {
    socket.close();
    await logger.close();
  }
}
