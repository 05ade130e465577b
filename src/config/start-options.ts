/**
 * The options of `fcgi-spawn start`: one table feeds commander, `--help` and the README's options
 * table (`npm run --silent docs:options`). `spawnFcgi` marks a flag that means what spawn-fcgi's does.
 */
export interface OptionSpec {
  readonly flags: string;
  readonly description: string;
  readonly defaultText?: string;
  readonly spawnFcgi?: boolean;
  readonly repeatable?: boolean;
}

export const START_OPTIONS: readonly OptionSpec[] = [
  { flags: '-a, --address <addr>', description: 'IPv4 or IPv6 address to bind', defaultText: '127.0.0.1', spawnFcgi: true },
  { flags: '-p, --port <port>', description: 'TCP port to bind (1-65535)', spawnFcgi: true },
  { flags: '-s, --socket <path>', description: 'Unix socket path to bind instead of a TCP port', spawnFcgi: true },
  { flags: '-b, --backlog <n>', description: 'listen queue length', defaultText: '1024', spawnFcgi: true },
  { flags: '-M, --socket-mode <mode>', description: 'Unix socket permissions, octal', defaultText: '0660', spawnFcgi: true },
  { flags: '-U, --socket-user <user>', description: 'Unix socket owner (root only)', defaultText: 'the -u user', spawnFcgi: true },
  { flags: '-G, --socket-group <group>', description: 'Unix socket group (root only)', defaultText: 'the -g group', spawnFcgi: true },
  { flags: '-F, --workers <n>', description: 'number of worker processes', defaultText: '1', spawnFcgi: true },
  { flags: '-C, --php-children <n>', description: 'set PHP_FCGI_CHILDREN for each worker', defaultText: 'unset', spawnFcgi: true },
  { flags: '-d, --chdir <dir>', description: 'working directory of the workers', spawnFcgi: true },
  { flags: '-u, --user <user>', description: 'run workers as this user, with its supplementary groups (root only)', spawnFcgi: true },
  { flags: '-g, --group <group>', description: 'run workers with this primary group (root only)', defaultText: "the user's group", spawnFcgi: true },
  { flags: '--allow-root', description: 'allow workers to run as root' },
  { flags: '--umask <mode>', description: 'umask of the workers, octal' },
  { flags: '-e, --env <KEY=VALUE>', description: 'set an environment variable for the workers', repeatable: true },
  { flags: '--fd <n>', description: 'hand the socket as fd 0 (FastCGI) or fd 3 with LISTEN_FDS (systemd)', defaultText: '0' },
  { flags: '--blocking <mode>', description: "socket mode: auto (blocking until a worker is seen in epoll_wait), blocking, nonblocking", defaultText: 'auto' },
  { flags: '--start-retries <n>', description: 'failed starts a worker may retry during start-up', defaultText: '3' },
  { flags: '--start-timeout <secs>', description: 'a worker not waiting on the socket by then failed to start', defaultText: '30' },
  { flags: '--start-secs <secs>', description: 'readiness fallback where /proc cannot tell: alive this long', defaultText: '1' },
  { flags: '--stop-signal <sig>', description: 'signal that asks a worker to stop', defaultText: 'TERM' },
  { flags: '--stop-timeout <secs>', description: 'SIGKILL a worker group this long after the stop signal', defaultText: '10' },
  { flags: '--graceful-timeout <secs>', description: 'reload and graceful stop: how long busy workers may finish before they are stopped', defaultText: '30' },
  { flags: '--steer-grace <secs>', description: 'reload: after steering new connections away, how long handshakes under way may still reach the old socket', defaultText: '1' },
  { flags: '-n, --no-daemon', description: 'stay in the foreground', spawnFcgi: true },
  { flags: '--name <name>', description: 'instance name: its pidfile, record and control socket in the run directory', defaultText: 'from the address' },
  { flags: '-P, --pidfile <path>', description: 'write an extra pidfile there (the run directory always has NAME.pid)', spawnFcgi: true },
  { flags: '--log-level <level>', description: 'error, warn, info or debug', defaultText: 'info' },
  { flags: '--log-file <path>', description: "the supervisor's own log file (reopened on USR1)", defaultText: 'stderr in the foreground' },
  { flags: '--log-format <format>', description: "the supervisor log's format: text or json", defaultText: 'text' },
  { flags: '--worker-log <path|inherit|none>', description: "workers' stdout and stderr: a file (each line marked with time, worker, pid, stream), inherit (ours), or none (/dev/null)", defaultText: 'inherit in the foreground' },
  { flags: '--worker-log-format <format>', description: 'lines of a --worker-log file: text, json or raw (as written)', defaultText: 'text' },
  { flags: '--log-max-size <size>', description: 'rotate a log file by renaming before it would pass this size (K, M, G: powers of 1024)', defaultText: 'no size rotation' },
  { flags: '--log-max-files <n>', description: 'rotated files kept per log file: PATH.1 (newest) … PATH.N', defaultText: '5' },
];

/** A `|` ends a table cell even inside backticks unless escaped (GitHub Flavored Markdown, tables). */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** The README's options table. */
export function optionsMarkdownTable(): string {
  const rows = START_OPTIONS.map((option) => {
    const repeat = option.repeatable ? ' (repeatable)' : '';
    return `| \`${cell(option.flags)}\` | ${cell(option.description)}${repeat} | ${cell(option.defaultText ?? '')} | ${option.spawnFcgi ? 'yes' : ''} |`;
  });
  return ['| option | meaning | default | as in spawn-fcgi |', '|---|---|---|---|', ...rows].join('\n');
}
