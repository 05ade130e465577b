/**
 * What a configuration is once parsed and resolved: one supervisor and its pools. Flags and files
 * both end here (config/ builds it, once, at the edge); everything after reads these readonly,
 * complete types and never a raw option again. A generation of a pool keeps the PoolConfig it was
 * started with, so a respawn after a rolled-back reload runs what that generation ran.
 */
import type { BlockingMode, ProcessManager } from '../core/policy.js';
import type { LogLevel, SupervisorLogFormat, WorkerLogFormat } from './log-values.js';
import type { ListenAddress } from '../os/sockaddr.js';
import type { Rlimit } from './rlimit.js';

/** Where worker output goes: captured into a file, inherited (ours), or /dev/null. */
export type WorkerLogTarget =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'inherit' }
  | { readonly kind: 'none' };

export interface WorkerIdentity {
  readonly uid: number;
  readonly gid: number;
  /** The passwd name whose groups initgroups() gives the worker, when the uid has one. */
  readonly userName?: string;
}

/** One pool: a socket, N workers of one program, their logs. */
export interface PoolConfig {
  /** Unique in the instance; `default` for a pool from flags alone. */
  readonly name: string;
  readonly address: ListenAddress;
  readonly backlog: number;
  readonly socketMode: number;
  readonly socketUid?: number;
  readonly socketGid?: number;
  readonly workers: number;
  /** As given (argv[0]); programPath is where it was found at this load. */
  readonly program: string;
  readonly programPath: string;
  readonly args: readonly string[];
  /** The workers' whole environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Real path, resolved at every load (a deploy that swaps a `current` symlink then reloads runs the new release). */
  readonly cwd: string;
  readonly identity?: WorkerIdentity;
  readonly umask?: number;
  /** Resource limits, niceness and OOM score set before the worker's exec (runtime/worker-command.ts); undefined: inherited. */
  readonly rlimitNofile?: Rlimit;
  readonly rlimitCore?: Rlimit;
  readonly nice?: number;
  readonly oomScoreAdj?: number;
  readonly fd: 0 | 3;
  readonly blocking: BlockingMode;
  readonly startRetries: number;
  readonly startTimeoutMs: number;
  readonly startSecsMs: number;
  /** socket: ready when /proc sees it wait on the socket; notify: when it writes READY=1 to its ready pipe (config/ready-fd.ts).
   *  Optional so that hand-built configurations (tests) need not say it: absent is socket. */
  readonly ready?: 'socket' | 'notify';
  readonly stopSignal: NodeJS.Signals;
  readonly stopTimeoutMs: number;
  readonly gracefulTimeoutMs: number;
  readonly steerGraceMs: number;
  /** idle: a draining worker is signalled once it holds no connection; signal: once no new connection can reach it
   *  (it finishes what it holds on the stop signal). Optional for hand-built configurations: absent is idle. */
  readonly drain?: 'idle' | 'signal';
  /** Undefined: the mode's default (inherit in the foreground, the instance's worker log file as a daemon). */
  readonly workerLog?: WorkerLogTarget;
  readonly workerLogFormat?: WorkerLogFormat;
  /** Paths whose change reloads this pool (watch.ts), with gitignore-style patterns to ignore. */
  readonly watch: readonly string[];
  readonly watchIgnore: readonly string[];
  readonly watchDebounceMs: number;
  /** uWSGI's touch-reload: a change of this file reloads the pool. */
  readonly touchReload?: string;
  /** The process manager and recycling (config/process-manager.ts). Optional so that hand-built configurations
   *  (tests) need not say them: absent is a static pool that never recycles. */
  readonly pm?: ProcessManager;
  readonly startWorkers?: number;
  readonly minSpare?: number;
  readonly maxSpare?: number;
  readonly idleTimeoutMs?: number;
  /** `generation`: retire through a new generation (fcgiwrap answers 502 to a request in flight on any signal). */
  readonly retireSignal?: NodeJS.Signals | 'generation';
  readonly maxLifetimeMs?: number;
  readonly maxLifetimeJitterMs?: number;
  /** Bytes of PSS of the worker's process group. */
  readonly maxRss?: number;
  readonly requestTimeoutMs?: number;
  /** Bound to a non-loopback address knowingly: no warning that FastCGI has no authentication (remoteWarnings).
   *  Always set by config/; optional so that hand-built configurations (tests) need not say it. */
  readonly allowRemote?: boolean;
}

/** The supervisor: its name, its own log, how it runs. */
export interface SupervisorConfig {
  /** Instance name: --name, else the file's `name`, else the config file's base name, else derived from the first pool's address. */
  readonly name: string;
  readonly daemon: boolean;
  /** This process is the daemon started by `start` (internal). */
  readonly daemonized: boolean;
  readonly extraPidfile?: string;
  readonly logLevel: LogLevel;
  /** Absolute path; undefined: the mode's default (stderr in the foreground). */
  readonly logFile?: string;
  readonly logFormat: SupervisorLogFormat;
  /** Bytes; undefined: no size rotation. Applies to every log file. */
  readonly logMaxSize?: number;
  readonly logMaxFiles?: number;
  /** Reload when the config file (or an included one) changes. */
  readonly watchConfig: boolean;
  /** The stats HTTP server's address (uWSGI's `stats`); undefined: none. */
  readonly stats?: ListenAddress;
  /** The stats server may listen on a non-loopback address (always set by config/; optional for hand-built configurations). */
  readonly statsAllowRemote?: boolean;
  /** The config file loaded, absolute; undefined when everything came from flags. */
  readonly configFile?: string;
  /** Every file read to build this configuration (the config file and its includes): what watch-config watches. */
  readonly sourceFiles: readonly string[];
  /** The `include` directories: a file added to one is a change too (always set by config/; undefined: none). */
  readonly includeDirectories?: readonly string[];
}

export interface Configuration {
  readonly supervisor: SupervisorConfig;
  /** At least one; names and addresses unique. */
  readonly pools: readonly PoolConfig[];
}
