/**
 * What a watch problem says. Never thrown: a path that cannot be watched is a warning naming the
 * path, the cause (errno name) and the fix, and the supervisor goes on serving (STYLE habit 10).
 */
import { readFileSync } from 'node:fs';

/** A warning and the key that says "the same warning": a path warned about is not warned about again. */
export interface WatchWarning {
  readonly key: string;
  readonly message: string;
}

/** Where a path is watched for: `pool app`, `touch-reload of pool app`, `watch-config`. */
export type WatchPurpose = string;

const CAUSES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many levels of symbolic links',
  ENOSPC: 'inotify watch limit reached',
  EMFILE: 'too many open files or inotify instances',
  ENFILE: 'too many open files in the system',
};

const LIMITS = new Set(['ENOSPC', 'EMFILE', 'ENFILE']);

function limit(name: string): string {
  try {
    return readFileSync(`/proc/sys/fs/inotify/${name}`, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function codeOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

/** The path an fs error names (fs.watch, stat and readdir errors carry it), else `fallback`. */
export function pathOf(error: unknown, fallback: string): string {
  const path = (error as NodeJS.ErrnoException | undefined)?.path;
  return typeof path === 'string' && path !== '' ? path : fallback;
}

function cause(error: unknown): string {
  const code = codeOf(error);
  return `${code} (${CAUSES[code] ?? (error instanceof Error ? error.message : String(error))})`;
}

/** What to do about it, by errno. */
function fix(code: string): string {
  switch (code) {
    case 'ENOSPC':
      return `changes below it are not seen; raise the limit (fs.inotify.max_user_watches = ${limit('max_user_watches')}): sysctl -w fs.inotify.max_user_watches=524288, and in /etc/sysctl.d/ to keep it`;
    case 'EMFILE':
    case 'ENFILE':
      return `changes below it are not seen; raise fs.inotify.max_user_instances (now ${limit('max_user_instances')}) with sysctl, or the open-file limit (ulimit -n, LimitNOFILE=); fs.inotify.max_user_watches is ${limit('max_user_watches')}`;
    case 'EACCES':
    case 'EPERM':
      return 'not watched: make it readable by the supervisor\'s user';
    default:
      return 'not watched';
  }
}

/** An error from the watcher (fs.watch, readdir) about a path being watched for `purpose`. */
export function watchError(error: unknown, purpose: WatchPurpose, fallbackPath: string): WatchWarning {
  const code = codeOf(error);
  const path = pathOf(error, fallbackPath);
  // Past a limit every further directory fails the same way: one warning per purpose, naming the first.
  const key = LIMITS.has(code) ? `${code}:${purpose}` : `${code}:${path}`;
  const more = LIMITS.has(code) ? ' (further paths past the same limit are not listed)' : '';
  return { key, message: `watch: unable to watch ${path} (${purpose}): ${cause(error)}${more}; ${fix(code)}` };
}

/** A configured path that does not exist: watched for when its directory exists, else not until the next reload. */
export function missingPath(path: string, purpose: WatchPurpose, directory: string, directoryExists: boolean): WatchWarning {
  const then = directoryExists
    ? `watching ${directory} for it to appear`
    : `its directory ${directory} does not exist either: not watched until the configuration is reloaded`;
  return { key: `ENOENT:${path}`, message: `watch: ${path} (${purpose}) does not exist; ${then}` };
}
