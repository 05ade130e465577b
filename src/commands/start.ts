/**
 * `fcgi-spawn start`: parse, cross-check, bind, spawn, supervise — in the order things happen.
 * Start-up fails fast with the exit code of the problem; once running, the supervisor keeps serving.
 */
import type { Flags } from '../config/flags.js';
import { remoteWarnings } from '../config/listen.js';
import { loadConfiguration } from '../config/load.js';
import { ConfigError } from '../config/problems.js';
import { CliError, START_EXIT, describeError } from '../errors.js';
import { configFailure } from './config-error.js';
import { adoptSockets, withAdoptedAddresses, type Adoption } from './activation.js';
import { describeInherited } from '../os/activation.js';
import { openLogs, type Logs } from '../log/setup.js';
import { ensureLogDirectory, LogFileRefusedError } from '../log/safe-open.js';
import { AdoptedSockets } from '../os/adopted-sockets.js';
import { ListenSocket, SocketPathError } from '../os/listen-socket.js';
import { removeAbandonedTemporaries } from '../os/socket-place.js';
import { closeInheritedOnExec, SyscallError } from '../os/libc.js';
import { canObserveSyscalls } from '../os/worker-activity.js';
import { formatAddress, type ListenAddress } from '../os/sockaddr.js';
import { addressHolder } from '../os/address-holder.js';
import type { Configuration, PoolConfig } from '../config/types.js';
import { serveInstance, type BoundPool, type ServeOptions } from '../runtime/serve.js';
import { unixSocketOptions } from '../runtime/pool-runtime.js';
import { claimInstance, reclaimInstance, PublishedInstance, type Claimed } from '../control/instance.js';
import { UPGRADE_STATE_ENV } from '../control/upgrade-state.js';
import { adoptPools, readHandedState } from './upgraded.js';
import { VERSION } from '../version.js';
import { ensureRunDirectory, runDirectory } from '../control/run-dir.js';
import { DAEMON_FLAG, detachFromLauncher, launchDaemon, reportToLauncher } from '../control/daemonize.js';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * What to say about an address someone holds: the holder, when /proc can tell, and the status hint
 * only when it is one of ours (a port held by nginx is not another instance).
 */
function heldBy(address: ListenAddress): string {
  const selector = address.kind === 'unix' ? `-s ${address.path}` : `-p ${address.port}`;
  const instanceHint = `is another instance running? see 'fcgi-spawn status ${selector}'`;
  const holder = addressHolder(address);
  if (!holder) return `; ${instanceHint}`;
  const held = `${holder.bound} is held by ${holder.name} (pid ${holder.pid})`;
  return holder.ours ? `; ${held}: ${instanceHint}` : `; ${held}`;
}

function bindFailure(error: unknown, address: ListenAddress): CliError {
  const name = formatAddress(address);
  if (error instanceof SocketPathError) {
    const hint = error.reason === 'in-use' ? heldBy(address) : '';
    return new CliError(`unable to bind ${name}: ${error.message}${hint}`, START_EXIT.cannotBind);
  }
  if (error instanceof SyscallError) {
    const cause = `${error.code} (${error.description})`;
    if (error.code === 'EACCES' || error.code === 'EPERM') {
      const hint = address.kind === 'unix' ? '; check the permissions of its directory' : '; ports below 1024 need root or CAP_NET_BIND_SERVICE';
      return new CliError(`unable to ${error.syscall} ${name}: ${cause}${hint}`, START_EXIT.permissionDenied);
    }
    const hint = error.code === 'EADDRINUSE' ? heldBy(address) : '';
    return new CliError(`unable to ${error.syscall} ${name}: ${cause}${hint}`, START_EXIT.cannotBind);
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EPERM' || code === 'EACCES') return new CliError(`unable to set up ${name}: ${describeError(error)}`, START_EXIT.permissionDenied);
  return new CliError(`unable to bind ${name}: ${describeError(error)}`, START_EXIT.cannotBind);
}

/** Binds a pool's socket, or throws a CliError with the exit code of the problem. */
export function bindPool(config: PoolConfig): ListenSocket {
  try {
    if (config.address.kind === 'unix') {
      removeAbandonedTemporaries(config.address.path);
      return ListenSocket.openUnix(config.address, { backlog: config.backlog, ...unixSocketOptions(config) });
    }
    return ListenSocket.openTcp(config.address, { backlog: config.backlog });
  } catch (error) {
    throw bindFailure(error, config.address);
  }
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

async function openInstanceLogs(configuration: Configuration, euid: number): Promise<Logs> {
  const { supervisor, pools } = configuration;
  if (!supervisor.daemonized) return openLogs(supervisor, pools, { foreground: true });
  if (supervisor.logFile !== undefined && pools.every((pool) => pool.workerLog !== undefined)) return openLogs(supervisor, pools, { foreground: false });
  const dir = await defaultLogDirectory(euid);
  return openLogs(supervisor, pools, { foreground: false, defaultLogFile: join(dir, `${supervisor.name}.log`), defaultWorkerLog: join(dir, `${supervisor.name}.workers.log`) });
}

/** A log file or directory another user could swap (log/safe-open.ts) is exit 4; anything else as it was. */
function refusedLogFailure(error: unknown, euid: number): unknown {
  if (!(error instanceof LogFileRefusedError)) return error;
  return new CliError(`${error.message}; as uid ${euid} logs are written only where no other user can swap files (README: Security)`, START_EXIT.permissionDenied);
}

/** The stats HTTP server, when configured; a bind failure ends start-up with its exit code, as a pool's does. */
function statsOpener(address: ListenAddress | undefined): Pick<ServeOptions, 'openStats'> {
  if (address === undefined) return {};
  return {
    openStats: async (read) => {
      const { startStatsServer } = await import('../status/http-server.js');
      try {
        return await startStatsServer(address, read);
      } catch (error) {
        const failure = bindFailure(error, address);
        throw new CliError(`--stats: ${failure.message}`, failure.exitCode);
      }
    },
  };
}

/** Binds every pool (or adopts the socket systemd passed for it), or releases what was bound and throws the first failure (naming its pool, when it has a name). */
function bindPools(pools: readonly PoolConfig[], bind: (config: PoolConfig) => ListenSocket): BoundPool[] {
  const bound: BoundPool[] = [];
  for (const config of pools) {
    try {
      const socket = bind(config);
      bound.push({ config, socket });
      socket.setBlocking(config.blocking !== 'nonblocking');
    } catch (error) {
      for (const pool of bound) pool.socket.close();
      // As a reload's 'pool NAME not added: …' says which pool.
      if (error instanceof CliError && config.name !== 'default') throw new CliError(`pool ${config.name}: ${error.message}`, error.exitCode);
      throw error;
    }
  }
  return bound;
}

/** The foreground instance, or the daemon's: claim the name, bind every pool, serve until stopped. */
async function runInstance(configuration: Configuration, reload: () => Promise<Configuration>, launch: { argv: readonly string[]; cwd: string }, onReady: () => void, adoption: Adoption = new Map(), upgradeState?: string): Promise<number> {
  const euid = process.geteuid?.() ?? -1;
  const { supervisor } = configuration;
  if (supervisor.daemonized) detachFromLauncher();
  // Workers get the socket and their stdio, nothing else we happened to inherit.
  closeInheritedOnExec();
  // Logs first: a log directory that is missing or read-only fails start-up (exit 2), one another user could
  // write is refused (exit 4), before anything is bound.
  const logs = await openInstanceLogs(configuration, euid).catch((error: unknown) => {
    throw refusedLogFailure(error, euid);
  });
  for (const warning of remoteWarnings(configuration)) logs.logger.log('warn', warning);
  // systemd's sockets stay open for the supervisor's life: a pool removed and added again gets its socket back.
  const adopted = new AdoptedSockets(adoption);
  const starting = new Set(configuration.pools.map((pool) => pool.name));
  const bind = (config: PoolConfig): ListenSocket => {
    const lent = adopted.lend(config);
    if (!lent) return bindPool(config);
    const again = !starting.delete(config.name);
    const { inherited } = lent;
    logs.logger.log('info', `socket activation: ${config.name === 'default' ? 'the pool' : `pool ${config.name}`} ${again ? 'adopts again' : 'adopts'} ${describeInherited(inherited)} from systemd${inherited.address.kind === 'tcp' && !inherited.reusePort ? ' (no SO_REUSEPORT: set ReusePort=yes in its .socket unit to reload without a restart)' : ''}`);
    return lent.socket;
  };
  try {
    const first = configuration.pools[0] as PoolConfig;
    // After an in-place upgrade the name, the sockets and the workers are already ours: taken over, not claimed and bound.
    const handed = upgradeState !== undefined ? readHandedState(upgradeState, euid) : undefined;
    const claimed: Claimed = handed
      ? reclaimInstance({ name: supervisor.name, env: process.env, euid }, handed.lock.fd)
      : await claimInstance({ name: supervisor.name, env: process.env, euid, stopSignal: first.stopSignal, stopTimeoutMs: first.stopTimeoutMs, logger: logs.logger });
    const instance = new PublishedInstance(claimed, {
      address: formatAddress(first.address),
      argv: launch.argv,
      cwd: launch.cwd,
      env: recordedEnvironment(),
      ...(supervisor.extraPidfile ? { extraPidfile: supervisor.extraPidfile } : {}),
    });
    const taken = handed ? adoptPools(configuration.pools, handed) : undefined;
    const pools = taken ? taken.bound : bindPools(configuration.pools, bind);
    try {
      // Each pool's worker log opens here, through the same checks as the supervisor log.
      const served = await serveInstance({ configuration, version: VERSION, ...(taken ? { adopted: taken.adopted } : {}), procReadiness: canObserveSyscalls(), pools, bindPool: bind, loadConfiguration: reload, logs, claimed, instance, onReady, ...statsOpener(supervisor.stats) }).catch(
        (error: unknown) => {
          throw refusedLogFailure(error, euid);
        },
      );
      if (served.exit.code !== 0) {
        const reason = `${served.exit.reason ?? 'no worker became ready'}${served.lastStderrLine ? `; its last stderr line: ${served.lastStderrLine}` : ''}`;
        throw new CliError(`start failed: ${reason}`, served.exit.code);
      }
      logs.logger.log('info', 'stopped: every worker exited, socket closed');
      return START_EXIT.ready;
    } finally {
      for (const pool of pools) pool.socket.close();
    }
  } catch (error) {
    // The terminal gets the error from cli.ts; a log file gets it too, since it may be all that is read later.
    if (logs.logFile !== undefined) logs.logger.log('error', describeError(error));
    throw error;
  } finally {
    adopted.closeAll();
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

/** `flags`: what commander collected for the option table (given ones only); `configPath`: --config. */
export async function runStart(flags: Flags, command: readonly string[], argv: readonly string[] = [], configPath?: string): Promise<number> {
  // Set only by a previous program of this instance that execve()d this one (runtime/upgrade.ts); never a worker's.
  const upgradeState = process.env[UPGRADE_STATE_ENV];
  delete process.env[UPGRADE_STATE_ENV];
  const context = { cwd: process.cwd(), env: process.env, euid: process.geteuid?.() ?? -1 };
  const inputs = { flags, command, ...(configPath !== undefined ? { configPath } : {}), ...context };
  // A reload reads the configuration again with the same inputs (the daemon itself runs in /): files, includes,
  // users, programs and chdir's real path as they are then. Its ConfigError is the reload's failure.
  let adoption: Adoption = new Map();
  // Pools on systemd's sockets keep their addresses through a reload (the file may say another, or none).
  const reload = async (): Promise<Configuration> => withAdoptedAddresses(await loadConfiguration(inputs), adoption);
  let configuration: Configuration;
  try {
    configuration = await reload();
  } catch (error) {
    throw error instanceof ConfigError ? configFailure(error) : error;
  }
  if (upgradeState !== undefined) {
    // Nobody waits on a handshake (the launcher of the first program is long gone): fd 3 may be a socket now.
    return runInstance(configuration, reload, { argv: recordedArguments(argv), cwd: context.cwd }, () => undefined, adoption, upgradeState);
  }
  // Sockets systemd passed us (LISTEN_FDS): checked, matched to pools, and out of the workers' environment.
  adoption = adoptSockets(configuration, process.env, process.pid);
  configuration = withAdoptedAddresses(configuration, adoption);
  const { supervisor } = configuration;
  const first = configuration.pools[0] as PoolConfig;
  const launch = { argv: recordedArguments(argv), cwd: context.cwd };
  if (supervisor.daemonized) {
    try {
      return await runInstance(configuration, reload, launch, () => reportToLauncher({ ok: true, pid: process.pid, name: supervisor.name, address: formatAddress(first.address) }));
    } catch (error) {
      const code = error instanceof CliError ? error.exitCode : START_EXIT.runtimeFailure;
      reportToLauncher({ ok: false, code, message: describeError(error) });
      throw error;
    }
  }
  if (!supervisor.daemon) return runInstance(configuration, reload, launch, () => undefined, adoption);
  // The daemon logs them to its file; the person who started it sees them here.
  for (const warning of remoteWarnings(configuration)) process.stderr.write(`fcgi-spawn: warning: ${warning}\n`);
  // Checked above in this process, so a usage error never starts a daemon; the daemon checks again.
  const handshake = await launchDaemon(process.argv[1] as string, recordedArguments(argv));
  if (!handshake.ok) throw new CliError(handshake.message, handshake.code);
  process.stdout.write(`fcgi-spawn: ${handshake.name} ready (pid ${handshake.pid}) on ${handshake.address}\n`);
  return START_EXIT.ready;
}
