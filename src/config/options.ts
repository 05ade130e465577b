/**
 * Every option of fcgi-spawn, once: its file key (the long flag's name, as uWSGI's users know it: `stop-timeout: 5`
 * is `--stop-timeout 5`), its short flag, scope (the supervisor, or a pool: given at the top level of a file, a
 * pool key is a default for every pool), kind of value, default, help, and whether spawn-fcgi means the same by it.
 * From this table come `start`'s commander options (cli.ts), the README's options table (`npm run --silent
 * docs:options`), the file validation and the JSON Schema (schema.ts), and the direct fields of SupervisorConfig
 * and PoolConfig (`field`). Adding an option is one row here (plus its field in types.ts).
 *
 * Loaded by cli.ts on every command: plain data only, nothing heavy imported.
 */
import { LOG_LEVELS, SUPERVISOR_LOG_FORMATS, WORKER_LOG_FORMATS } from './log-values.js';
import * as kinds from './kinds.js';
import type { Kind } from './kinds.js';
import type { PoolConfig, SupervisorConfig } from './types.js';

interface Common<T> {
  readonly kind: Kind<T>;
  readonly help: string;
  /** One letter: `-F`. */
  readonly short?: string;
  /** commander's flags when they are not `-S, --KEY <arg>` (`-n, --no-daemon`); false: file only. */
  readonly flags?: string | false;
  /** false: command line only (-a, -p, -s, which make `listen`). */
  readonly file?: false;
  /** Applied when neither a flag nor a file sets it. */
  readonly default?: NoInfer<T>;
  /** The default as the README and --help say it, when it is not a plain value (`the -u user`). */
  readonly defaultText?: string;
  readonly spawnFcgi?: boolean;
  /** Not in --help, the README or the schema (the daemon's internal flag). */
  readonly hidden?: boolean;
}

export type OptionSpec<T = unknown> =
  | (Common<T> & { readonly scope: 'supervisor'; readonly field?: keyof SupervisorConfig })
  | (Common<T> & { readonly scope: 'pool'; readonly field?: keyof PoolConfig });

/** A pool key; the default is checked against the kind. */
function pool<T>(spec: Common<T> & { readonly field?: keyof PoolConfig }): Common<T> & { readonly scope: 'pool'; readonly field?: keyof PoolConfig } {
  return { scope: 'pool', ...spec };
}

function supervisor<T>(spec: Common<T> & { readonly field?: keyof SupervisorConfig }): Common<T> & { readonly scope: 'supervisor'; readonly field?: keyof SupervisorConfig } {
  return { scope: 'supervisor', ...spec };
}

const SECOND = 1000;

export const OPTIONS = {
  listen: pool({ kind: kinds.listen, help: 'address to bind: HOST:PORT, [IPV6]:PORT, or a Unix socket path (a file: `listen: 127.0.0.1:9005`)', field: 'address' }),
  address: pool({ kind: kinds.host, short: 'a', file: false, defaultText: '127.0.0.1', spawnFcgi: true, help: 'IPv4 or IPv6 address to bind (with -p)' }),
  port: pool({ kind: kinds.integer(1, 65535, 'port'), short: 'p', file: false, spawnFcgi: true, help: 'TCP port to bind (1-65535)' }),
  socket: pool({ kind: kinds.path(), short: 's', file: false, spawnFcgi: true, help: 'Unix socket path to bind instead of a TCP port' }),
  backlog: pool({ kind: kinds.integer(1, 1_000_000), short: 'b', default: 1024, spawnFcgi: true, help: 'listen queue length', field: 'backlog' }),
  'socket-mode': pool({ kind: kinds.mode(0o777), short: 'M', default: 0o660, defaultText: '0660', spawnFcgi: true, help: 'Unix socket permissions, octal', field: 'socketMode' }),
  'socket-user': pool({ kind: kinds.text('user'), short: 'U', defaultText: 'the -u user', spawnFcgi: true, help: 'Unix socket owner (root only)' }),
  'socket-group': pool({ kind: kinds.text('group'), short: 'G', defaultText: 'the -g group', spawnFcgi: true, help: 'Unix socket group (root only)' }),
  workers: pool({ kind: kinds.integer(1, 4096), short: 'F', default: 1, spawnFcgi: true, help: 'number of worker processes', field: 'workers' }),
  'php-children': pool({ kind: kinds.integer(0, 10_000), short: 'C', defaultText: 'unset', spawnFcgi: true, help: 'set PHP_FCGI_CHILDREN for each worker' }),
  command: pool({ kind: kinds.argv, flags: false, help: 'the worker program and its arguments: after `--` on the command line, a list in a file' }),
  program: pool({ kind: kinds.text('program', 'one program, by name or path (its arguments go after --)'), short: 'f', file: false, spawnFcgi: true, help: "the worker program when none follows -- (spawn-fcgi's -f), run directly, never through a shell" }),
  chdir: pool({ kind: kinds.path('dir'), short: 'd', defaultText: 'the working directory', spawnFcgi: true, help: 'working directory of the workers (its real path, resolved at every load)' }),
  user: pool({ kind: kinds.text('user'), short: 'u', spawnFcgi: true, help: "run workers as this user, with its supplementary groups and its HOME, USER, LOGNAME and SHELL (root only)" }),
  group: pool({ kind: kinds.text('group'), short: 'g', defaultText: "the user's group", spawnFcgi: true, help: 'run workers with this primary group (root only)' }),
  'allow-root': pool({ kind: kinds.boolean, default: false, help: 'allow workers to run as root' }),
  umask: pool({ kind: kinds.mode(0o777), help: 'umask of the workers, octal', field: 'umask' }),
  'rlimit-nofile': pool({ kind: kinds.rlimit('count'), defaultText: "the supervisor's", help: 'open files limit of the workers (RLIMIT_NOFILE, php-fpm rlimit_files): N for soft and hard, or SOFT:HARD; above the hard limit needs root', field: 'rlimitNofile' }),
  'rlimit-core': pool({ kind: kinds.rlimit('bytes'), defaultText: "the supervisor's", help: 'core file size limit of the workers (RLIMIT_CORE, php-fpm rlimit_core): a size, unlimited, or SOFT:HARD; above the hard limit needs root', field: 'rlimitCore' }),
  nice: pool({ kind: kinds.integer(-20, 19), defaultText: "the supervisor's", help: 'niceness of the workers, -20 (first) to 19 (last) (php-fpm process.priority); below the supervisor\'s needs root', field: 'nice' }),
  'oom-score-adj': pool({ kind: kinds.integer(-1000, 1000), defaultText: "the supervisor's", help: "the workers' /proc/PID/oom_score_adj, -1000 (never OOM-killed) to 1000 (first); below the supervisor's needs root", field: 'oomScoreAdj' }),
  env: pool({ kind: kinds.env, short: 'e', help: 'set an environment variable for the workers (a map in a file)' }),
  'clear-env': pool({ kind: kinds.boolean, default: false, help: "start workers from an empty environment (plus -e, --env-keep and -u's variables) instead of the supervisor's" }),
  'env-keep': pool({ kind: kinds.envNames, help: 'with --clear-env: pass this variable of the supervisor on to the workers' }),
  fd: pool({ kind: kinds.choice([0, 3] as const, 'n'), default: 0, help: 'hand the socket as fd 0 (FastCGI) or fd 3 with LISTEN_FDS (systemd)', field: 'fd' }),
  blocking: pool({ kind: kinds.choice(['auto', 'blocking', 'nonblocking'] as const, 'mode'), default: 'auto', help: 'socket mode: auto (blocking until a worker is seen in epoll_wait), blocking, nonblocking', field: 'blocking' }),
  'allow-remote': pool({ kind: kinds.boolean, default: false, help: 'bind to a non-loopback address without the warning that FastCGI has no authentication', field: 'allowRemote' }),
  'start-retries': pool({ kind: kinds.integer(0, 1000), default: 3, help: 'failed starts a worker may retry during start-up', field: 'startRetries' }),
  'start-timeout': pool({ kind: kinds.duration({ minMs: 1 }), default: 30 * SECOND, help: 'a worker not ready by then (not waiting on the socket; with --ready notify, no READY=1) failed to start', field: 'startTimeoutMs' }),
  'start-secs': pool({ kind: kinds.duration(), default: 1 * SECOND, help: 'readiness fallback where /proc cannot tell (alive this long), and the window in which a crash after readiness counts as an early crash', field: 'startSecsMs' }),
  ready: pool({ kind: kinds.choice(['socket', 'notify'] as const, 'how'), default: 'socket', help: 'when a starting worker is ready: socket (seen waiting on the socket, in /proc) or notify (once it writes READY=1 to the pipe FCGI_SPAWN_READY_FD names, as ready() of fcgi-spawn/worker does), within --start-timeout', field: 'ready' }),
  'stop-signal': pool({ kind: kinds.signal, default: 'SIGTERM', defaultText: 'TERM', help: 'signal that asks a worker to stop', field: 'stopSignal' }),
  'stop-timeout': pool({ kind: kinds.duration(), default: 10 * SECOND, help: 'SIGKILL a worker group this long after the stop signal', field: 'stopTimeoutMs' }),
  'graceful-timeout': pool({ kind: kinds.duration(), default: 30 * SECOND, help: 'reload and graceful stop: how long busy workers may finish before they are stopped', field: 'gracefulTimeoutMs' }),
  'steer-grace': pool({ kind: kinds.duration({ max: 60 }), default: 1 * SECOND, help: 'reload: after steering new connections away, how long handshakes under way may still reach the old socket', field: 'steerGraceMs' }),
  drain: pool({ kind: kinds.choice(['idle', 'signal'] as const, 'how'), default: 'idle', help: 'reload and graceful stop: idle (a worker gets the stop signal once it holds no connection) or signal (once no new connection can reach it, busy or not: for workers that finish what they hold on it, as fcgi-spawn/worker does)', field: 'drain' }),
  'worker-log': pool({ kind: kinds.workerLog, defaultText: 'inherit in the foreground', help: "workers' stdout and stderr: a file (each line marked with time, worker, pid, stream), inherit (ours), or none (/dev/null)", field: 'workerLog' }),
  'worker-log-format': pool({ kind: kinds.choice(WORKER_LOG_FORMATS, 'format'), defaultText: 'text', help: 'lines of a --worker-log file: text, json or raw (as written)', field: 'workerLogFormat' }),
  watch: pool({ kind: kinds.list('path', true), default: [], help: 'reload the pool when something under this path changes (a list in a file)', field: 'watch' }),
  'watch-ignore': pool({ kind: kinds.list('pattern', false), default: [], help: 'gitignore-style patterns that --watch ignores', field: 'watchIgnore' }),
  'watch-debounce': pool({ kind: kinds.duration({ max: 3600 }), default: 500, defaultText: '500ms', help: 'a watched change reloads once nothing changed for this long', field: 'watchDebounceMs' }),
  'touch-reload': pool({ kind: kinds.path('file'), help: 'reload the pool when this file is touched', field: 'touchReload' }),
  pm: pool({ kind: kinds.choice(['static', 'dynamic', 'ondemand'] as const, 'pm'), default: 'static', help: 'process manager: static (always `workers`), dynamic (idle workers kept between min-spare and max-spare, at most `workers`), ondemand (none until a connection waits)', field: 'pm' }),
  'start-workers': pool({ kind: kinds.integer(0, 4096), defaultText: 'min-spare + (max-spare - min-spare) / 2', help: 'pm dynamic: workers started at start-up and at each reload' }),
  'min-spare': pool({ kind: kinds.integer(0, 4096), defaultText: '1', help: 'pm dynamic: fewer idle workers than this, more are started (1, 2, 4 … 32 a second)' }),
  'max-spare': pool({ kind: kinds.integer(1, 4096), defaultText: 'min(3, workers), at least min-spare', help: 'pm dynamic: more idle workers than this, one is retired each second' }),
  'idle-timeout': pool({ kind: kinds.duration({ minMs: 1 }), default: 10 * SECOND, help: 'pm ondemand: a worker idle this long is retired', field: 'idleTimeoutMs' }),
  'retire-signal': pool({ kind: kinds.retireSignal, defaultText: 'the stop signal; generation for fcgiwrap', help: 'how one idle worker of several is retired (shrinking, recycling): a signal it finishes a request on, or `generation` (a new generation takes over, as a reload) for programs that cut a request on any signal' }),
  'max-lifetime': pool({ kind: kinds.duration({ minMs: 1, max: 30 * 86_400 }), defaultText: 'none', help: 'replace a worker this long after it started (the replacement first)', field: 'maxLifetimeMs' }),
  'max-lifetime-jitter': pool({ kind: kinds.duration({ max: 30 * 86_400 }), defaultText: 'a tenth of max-lifetime', help: 'max-lifetime plus a random part of this, so workers do not all recycle together' }),
  'max-rss': pool({ kind: kinds.size, defaultText: 'none', help: "replace a worker whose memory (PSS of its process group, /proc/PID/smaps_rollup) passes this size (the replacement first)", field: 'maxRss' }),
  'request-timeout': pool({ kind: kinds.duration({ minMs: 1 }), defaultText: 'none', help: 'stop a worker that holds the same connection this long without waiting on it (stop signal, SIGKILL after stop-timeout); see the README for what is measured', field: 'requestTimeoutMs' }),
  name: supervisor({ kind: kinds.text('name'), defaultText: "the file's name, else from the address", help: 'instance name: its pidfile, record and control socket in the run directory' }),
  daemon: supervisor({ kind: kinds.boolean, short: 'n', flags: '-n, --no-daemon', default: true, spawnFcgi: true, help: 'stay in the foreground (in a file: `daemon: false`)', field: 'daemon' }),
  daemonized: supervisor({ kind: kinds.boolean, file: false, default: false, hidden: true, help: 'this process is the daemon a launching start waits for', field: 'daemonized' }),
  pidfile: supervisor({ kind: kinds.path(), short: 'P', spawnFcgi: true, help: 'write an extra pidfile there (the run directory always has NAME.pid)', field: 'extraPidfile' }),
  'log-level': supervisor({ kind: kinds.choice(LOG_LEVELS, 'level'), default: 'info', help: 'error, warn, info or debug', field: 'logLevel' }),
  'log-file': supervisor({ kind: kinds.path(), defaultText: 'stderr in the foreground', help: "the supervisor's own log file (reopened on USR1)", field: 'logFile' }),
  'log-format': supervisor({ kind: kinds.choice(SUPERVISOR_LOG_FORMATS, 'format'), default: 'text', help: "the supervisor log's format: text or json", field: 'logFormat' }),
  'log-max-size': supervisor({ kind: kinds.size, defaultText: 'no size rotation', help: 'rotate a log file by renaming before it would pass this size (K, M, G: powers of 1024)', field: 'logMaxSize' }),
  'log-max-files': supervisor({ kind: kinds.integer(0, 1000), defaultText: '5', help: 'rotated files kept per log file: PATH.1 (newest) … PATH.N', field: 'logMaxFiles' }),
  stats: supervisor({ kind: kinds.listen, help: 'serve GET /metrics (Prometheus text) and GET /status (JSON) over HTTP at HOST:PORT or a Unix socket path (loopback only without --stats-allow-remote)', field: 'stats' }),
  'stats-allow-remote': supervisor({ kind: kinds.boolean, default: false, help: 'let --stats listen on a non-loopback address (the status names programs, pids and addresses)', field: 'statsAllowRemote' }),
  'watch-config': supervisor({ kind: kinds.boolean, default: false, help: 'reload when the config file (or an included one) changes', field: 'watchConfig' }),
};

export type OptionName = keyof typeof OPTIONS;
export type OptionValue<N extends OptionName> = (typeof OPTIONS)[N]['kind'] extends Kind<infer T> ? T : never;

export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

export function option(name: OptionName): OptionSpec {
  return OPTIONS[name] as OptionSpec<unknown>;
}

/** Options by scope, in table order; `file` true: only those a file may set. */
export function optionsOf(scope: 'supervisor' | 'pool', { file = false } = {}): OptionName[] {
  return OPTION_NAMES.filter((name) => option(name).scope === scope && !(file && (option(name).file === false || option(name).hidden)));
}

/** commander's flags for an option (`-F, --workers <n>`), or undefined when it has none. */
export function flagsOf(name: OptionName): string | undefined {
  const spec = option(name);
  if (spec.flags === false) return undefined;
  if (spec.flags !== undefined) return spec.flags;
  const short = spec.short !== undefined ? `-${spec.short}, ` : '';
  return `${short}--${name}${spec.kind.arg !== undefined ? ` <${spec.kind.arg}>` : ''}`;
}

/** The long flag as a message names it: `--workers`, `--no-daemon`. */
export function longFlag(name: OptionName): string {
  return /--[a-z-]+/.exec(flagsOf(name) ?? `--${name}`)?.[0] ?? `--${name}`;
}

/** The property commander stores a flag's value under: `stop-timeout` → `stopTimeout`. */
export function attributeOf(name: OptionName): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
