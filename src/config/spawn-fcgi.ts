/**
 * Every option of spawn-fcgi (1.6: `spawn-fcgi -h`) and its fate here, once: the README's table of them comes from
 * this list (options-doc.ts), and so do the one-line refusals of those fcgi-spawn does not take, so that someone
 * typing spawn-fcgi's flags from habit learns the fcgi-spawn way instead of reading "unknown option".
 *
 * Loaded by cli.ts with the option table (start, config, help): plain data only.
 */

export interface SpawnFcgiOption {
  /** As spawn-fcgi's help writes it. */
  readonly flag: string;
  /** What spawn-fcgi does with it. */
  readonly meaning: string;
  /** What fcgi-spawn does with it (Markdown). */
  readonly here: string;
}

/** One fcgi-spawn does not take: `start` refuses it with `hint`. */
export interface RefusedSpawnFcgiOption extends SpawnFcgiOption {
  /** commander's flags for the hidden option that catches it. */
  readonly catch: string;
  readonly hint: string;
}

export const REFUSED_SPAWN_FCGI_OPTIONS: readonly RefusedSpawnFcgiOption[] = [
  {
    flag: '-c <directory>',
    catch: '-c <directory>',
    meaning: 'chroot to the directory (root only)',
    here: 'refused: fcgi-spawn does not chroot; chroot(8) in the worker command does (`--allow-root -- chroot --userspec=USER DIR PROGRAM`), or confine the service with systemd (contrib/systemd)',
    hint: "-c (chroot) is not supported: run the worker through chroot(8) after -- (--allow-root -- chroot --userspec=USER DIR PROGRAM), or confine the service with systemd's sandboxing (contrib/systemd)",
  },
  {
    flag: '-S',
    catch: '-S',
    meaning: 'create the socket before chroot() (root only)',
    here: 'refused: not needed; the socket is always bound by the supervisor, before the workers change user, and there is no chroot',
    hint: '-S is not needed: fcgi-spawn always binds the socket itself, before the workers change user, and has no chroot (see -c)',
  },
];

export const SPAWN_FCGI_OPTIONS: readonly SpawnFcgiOption[] = [
  { flag: '-f <path>', meaning: 'the FastCGI program, run through /bin/sh (ignored when a program follows --)', here: '`start -f PROGRAM`: the program when none follows `--`, run directly (no shell); a value with spaces is refused (its arguments go after `--`), and so is `-f` together with a program after `--`' },
  { flag: '-d <directory>', meaning: 'chdir before spawning', here: '`-d`: the same (resolved to its real path at every load)' },
  { flag: '-a <address>', meaning: 'IPv4/IPv6 address to bind, default 0.0.0.0', here: '`-a`: the same, but the default is 127.0.0.1 (a non-loopback address warns: FastCGI has no authentication)' },
  { flag: '-p <port>', meaning: 'TCP port to bind', here: '`-p`: the same; out of range (`70000`) is an error' },
  { flag: '-s <path>', meaning: 'Unix socket to bind', here: '`-s`: the same; a live server there is refused, a stale socket replaced' },
  { flag: '-M <mode>', meaning: 'Unix socket mode', here: '`-M`: the same, octal; default 0660' },
  { flag: '-C <children>', meaning: '(PHP) PHP_FCGI_CHILDREN for each worker', here: '`-C`: the same' },
  { flag: '-F <children>', meaning: 'number of children to fork, default 1', here: '`-F`: the same, and they are supervised: respawned, reloaded, scaled' },
  { flag: '-b <backlog>', meaning: 'listen queue length, default 1024', here: '`-b`: the same' },
  { flag: '-P <path>', meaning: 'PID file (ignored with -n)', here: '`-P`: an extra pidfile with the supervisor\'s pid, with or without `-n` (the run directory always has NAME.pid)' },
  { flag: '-n', meaning: 'no fork (for daemontools)', here: '`-n`: stay in the foreground (without it `start` returns once every worker is ready)' },
  { flag: '-v', meaning: 'show the version', here: '`fcgi-spawn -v` (or `-V`, `--version`)' },
  { flag: '-?, -h', meaning: 'show the help', here: '`fcgi-spawn -?`, `-h` or `--help`; `fcgi-spawn start -h` for the options of `start`' },
  ...REFUSED_SPAWN_FCGI_OPTIONS,
  { flag: '-u <user>', meaning: 'change to the user (root only; ignored otherwise)', here: '`-u`: the same, with the user\'s supplementary groups and HOME/USER/LOGNAME/SHELL; refused when not root' },
  { flag: '-g <group>', meaning: "change to the group, default the user's (root only)", here: '`-g`: the same; refused when not root' },
  { flag: '-U <user>', meaning: 'Unix socket owner (root only)', here: '`-U`: the same, default the `-u` user; refused when not root' },
  { flag: '-G <group>', meaning: 'Unix socket group (root only)', here: '`-G`: the same, default the `-g` group; refused when not root' },
];

/** The attribute commander stores a caught flag under: `-c <directory>` → `c`, `-S` → `S`. */
export function caughtAttribute(option: RefusedSpawnFcgiOption): string {
  return option.catch.slice(1, 2);
}
