/**
 * Where an instance keeps its state: a run directory of its user (/run/fcgi-spawn as root,
 * $XDG_RUNTIME_DIR/fcgi-spawn, else /tmp/fcgi-spawn-UID), created 0700 and refused when it is not
 * ours — another user who could write there could plant a pidfile and have us signal any process.
 * FCGI_SPAWN_RUN_DIR overrides it (tests, several independent setups on one machine).
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ListenAddress } from '../os/sockaddr.js';

// node:crypto only for a name that needs a hash (a long or odd socket path): loading it costs ~17 ms
// (measured, bench:cli) on commands that scripts run many times a minute.
const load = createRequire(import.meta.url);

export interface RunContext {
  readonly env: NodeJS.ProcessEnv;
  readonly euid: number;
}

export function runDirectory(context: RunContext): string {
  if (context.env.FCGI_SPAWN_RUN_DIR) return context.env.FCGI_SPAWN_RUN_DIR;
  if (context.euid === 0) return '/run/fcgi-spawn';
  if (context.env.XDG_RUNTIME_DIR) return join(context.env.XDG_RUNTIME_DIR, 'fcgi-spawn');
  return `/tmp/fcgi-spawn-${context.euid}`;
}

export class RunDirectoryError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'RunDirectoryError';
  }
}

/** Create it 0700 if missing, then check it as every reader does. */
export function ensureRunDirectory(path: string, euid: number): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new RunDirectoryError(path, `unable to create run directory ${path}: ${(error as Error).message}`);
  }
  if (checkRunDirectory(path, euid) === 'missing') throw new RunDirectoryError(path, `run directory ${path} vanished after it was created: refusing it`);
}

/**
 * The checks every command makes before trusting anything in the run directory, without creating
 * it: not a symlink, a directory, ours, no group/other access. Commands that only read it (stop,
 * status, list, restart, reload…) check it too: with no XDG_RUNTIME_DIR the fallback is under /tmp,
 * where another user can create /tmp/fcgi-spawn-UID first and plant a record (an environment for
 * `restart`, an extra pidfile for `stop` to delete).
 */
export function checkRunDirectory(path: string, euid: number): 'missing' | 'ok' {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new RunDirectoryError(path, `unable to inspect run directory ${path}: ${(error as Error).message}`);
  }
  const fix = `remove it or set FCGI_SPAWN_RUN_DIR to a directory of uid ${euid}, mode 0700`;
  if (stat.isSymbolicLink() || !stat.isDirectory()) throw new RunDirectoryError(path, `run directory ${path} is not a directory (a symlink?): refusing it; ${fix}`);
  if (stat.uid !== euid) throw new RunDirectoryError(path, `run directory ${path} belongs to uid ${stat.uid}, not ${euid}: refusing it and everything in it; ${fix}`);
  if ((stat.mode & 0o077) !== 0) throw new RunDirectoryError(path, `run directory ${path} is open to others (mode ${(stat.mode & 0o777).toString(8)}): refusing it; expected 0700`);
  return 'ok';
}

/**
 * One rule for every name, given (--name) or derived (defaultName): it becomes file names in the run
 * directory and an argument of later commands, so no '/', no leading '.' (hidden, '..') and no
 * leading '-' (an option).
 */
const NAME_PATTERN = /^[A-Za-z0-9_@][A-Za-z0-9._@-]{0,99}$/;
const NAME_MAX = 100;
const DISALLOWED = /[^A-Za-z0-9._@-]/g;
const HASH_LENGTH = 12;

export function validateName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new Error(`invalid --name ${JSON.stringify(name)}: expected 1 to ${NAME_MAX} letters, digits, '.', '_', '@' or '-', not starting with '.' or '-'`);
  }
  return name;
}

/**
 * A valid name from any text: itself when valid; otherwise the text with every other byte as '_',
 * its readable tail, and a hash of the whole text, so that two texts that differ only in a replaced
 * byte or before their last 100 characters still get two names.
 */
function nameOf(text: string): string {
  if (NAME_PATTERN.test(text)) return text;
  const hash = (load('node:crypto') as typeof import('node:crypto')).createHash('sha256').update(text).digest('hex').slice(0, HASH_LENGTH);
  const tail = text.replace(DISALLOWED, '_').slice(-(NAME_MAX - HASH_LENGTH - 1));
  return validateName(`${tail.replace(/^[.-]/, '_')}-${hash}`);
}

/** 127.0.0.1:9005 → 127.0.0.1-9005; [::1]:9005 → __1-9005; /run/php/www.sock → run_php_www.sock */
export function defaultName(address: ListenAddress): string {
  if (address.kind === 'unix') return nameOf(address.path.replace(/^\/+/, '').replace(/\//g, '_') || 'socket');
  return nameOf(`${address.host.replace(/:/g, '_')}-${address.port}`);
}

export interface InstancePaths {
  readonly dir: string;
  readonly pidfile: string;
  readonly control: string;
  readonly record: string;
  /** Held (flock) by the running supervisor: one instance per name (instance-lock.ts). */
  readonly lock: string;
}

export function instancePaths(dir: string, name: string): InstancePaths {
  return { dir, pidfile: join(dir, `${name}.pid`), control: join(dir, `${name}.ctl`), record: join(dir, `${name}.json`), lock: join(dir, `${name}.lock`) };
}

