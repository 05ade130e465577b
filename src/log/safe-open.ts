/**
 * Opening a log file as root without giving a worker's user a way to root files (issue 9: a worker
 * owning the log directory replaced `w.log` with a symlink to a root file and sent USR1; the file got
 * the worker's lines, and a link to a missing path made root create it).
 *
 * - The directory: every directory on the way to it is looked at (lstat, symlinks expanded one at a
 *   time) and must be trusted: owned by root or by us, and writable by nobody else unless sticky (a
 *   group-writable one is trusted when its group is root's, or, for a supervisor that is not root,
 *   its own group: a user private group). Symlinks on the way must be owned by root or by us. What
 *   fails is refused, never created through: `ensureLogDirectory` makes missing directories one at a
 *   time inside trusted ones. Then the directory is opened O_DIRECTORY|O_NOFOLLOW and its descriptor
 *   checked to be what was looked at.
 * - The file, relative to that descriptor: O_NOFOLLOW (a symlink is ELOOP, a link to a missing path
 *   creates nothing), O_NONBLOCK (a FIFO with no reader is ENXIO instead of a hang; open(2): the flag
 *   has no effect on regular files, so it is left set), O_NOCTTY; then fstat, before a byte is
 *   written: a regular file, owned by us, with one link (a hard link to a root file has two).
 * - Node's fs has no *at() calls: `/proc/self/fd/N/NAME` resolves through descriptor N exactly as
 *   openat(N, NAME) would (the kernel jumps to the open directory, wherever it was moved), and keeps
 *   every operation on libuv's pool, asynchronous, like the rest of the log's I/O.
 */
import fs from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A log path that is not safe to write as this user: start-up exits with it, a running supervisor reports it. */
export class LogFileRefusedError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    what = 'log file',
  ) {
    super(`refusing ${what} ${path}: ${reason}`);
    this.name = 'LogFileRefusedError';
  }
}

export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

export interface OpenedLogFile {
  /** The log's directory, open O_DIRECTORY|O_NOFOLLOW: the file and its rotations are named relative to it. */
  readonly dirFd: number;
  readonly fd: number;
  readonly size: number;
  readonly identity: FileIdentity;
}

const MAX_SYMLINKS = 40;
const S_ISVTX = 0o1000;
const DIRECTORY_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
const FILE_FLAGS =
  fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

/** `name` in the directory open as `dirFd`, resolved through the descriptor. */
export function entryPath(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

const euid = (): number => process.geteuid?.() ?? -1;
const egid = (): number => process.getegid?.() ?? -1;

/** Why others than us (and root) could change what is in this directory; undefined when they cannot. */
function untrusted(stat: fs.Stats): string | undefined {
  const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
  if (stat.uid !== 0 && stat.uid !== euid()) return `owned by uid ${stat.uid}, not by root or uid ${euid()}`;
  const sticky = (stat.mode & S_ISVTX) !== 0;
  if ((stat.mode & 0o002) !== 0 && !sticky) return `writable by every user (mode ${mode}) without the sticky bit`;
  const ownGroup = stat.gid === 0 || (euid() !== 0 && stat.gid === egid());
  if ((stat.mode & 0o020) !== 0 && !sticky && !ownGroup) return `writable by group ${stat.gid} (mode ${mode}) without the sticky bit`;
  return undefined;
}

interface Resolved {
  readonly path: string;
  readonly stat: fs.Stats;
}

/**
 * The real path of `dir`, every directory on the way checked (see above). `create`: missing
 * directories are made, one at a time, with that mode, inside directories already checked.
 */
async function resolveTrusted(dir: string, refused: (path: string, why: string) => LogFileRefusedError, create?: number): Promise<Resolved> {
  const pending = dir.split('/').filter((part) => part !== '' && part !== '.');
  let current = '/';
  let stat = await fs.promises.lstat(current);
  let links = 0;
  const refuse = (path: string, why: string): never => {
    throw refused(path, why);
  };
  for (;;) {
    const why = untrusted(stat);
    if (why) refuse(current, why);
    const name = pending.shift();
    if (name === undefined) return { path: current, stat };
    if (name === '..') {
      current = dirname(current);
      stat = await fs.promises.lstat(current);
      continue;
    }
    const next = join(current, name);
    let entry: fs.Stats;
    try {
      entry = await fs.promises.lstat(next);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || create === undefined) throw error;
      await fs.promises.mkdir(next, { mode: create }).catch((mkdirError: NodeJS.ErrnoException) => {
        if (mkdirError.code !== 'EEXIST') throw mkdirError;
      });
      entry = await fs.promises.lstat(next);
    }
    if (entry.isSymbolicLink()) {
      if (entry.uid !== 0 && entry.uid !== euid()) refuse(next, `a symbolic link owned by uid ${entry.uid}`);
      if ((links += 1) > MAX_SYMLINKS) refuse(dir, 'reached through too many symbolic links');
      const target = await fs.promises.readlink(next);
      pending.unshift(...target.split('/').filter((part) => part !== '' && part !== '.'));
      if (target.startsWith('/')) current = '/';
      stat = await fs.promises.lstat(current);
      continue;
    }
    if (!entry.isDirectory()) refuse(next, 'not a directory');
    current = next;
    stat = entry;
  }
}

/** Creates the missing directories of `dir` (mode `mode`), only inside trusted ones; refuses an untrusted one. */
export async function ensureLogDirectory(dir: string, mode: number): Promise<string> {
  const refused = (path: string, why: string): LogFileRefusedError =>
    new LogFileRefusedError(dir, path === dir ? `it is ${why}` : `the directory ${path} on the way is ${why}`, 'log directory');
  return (await resolveTrusted(dir, refused, mode)).path;
}

function openFd(path: string, flags: number, mode?: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, mode, (error, fd) => (error ? reject(error) : resolve(fd))));
}

function fstat(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (error, stat) => (error ? reject(error) : resolve(stat))));
}

export function closeFd(fd: number): void {
  fs.close(fd, () => {});
}

/** The log's directory, checked, open O_DIRECTORY|O_NOFOLLOW and checked to be the directory looked at. */
async function openLogDirectory(path: string): Promise<number> {
  const dir = dirname(path);
  const refused = (at: string, why: string): LogFileRefusedError =>
    new LogFileRefusedError(path, `${at === dir ? 'its directory' : 'the directory'} ${at} is ${why}`);
  const resolved = await resolveTrusted(dir, refused);
  const fd = await openFd(resolved.path, DIRECTORY_FLAGS);
  const stat = await fstat(fd).catch((error: unknown) => {
    closeFd(fd);
    throw error;
  });
  if (stat.dev !== resolved.stat.dev || stat.ino !== resolved.stat.ino) {
    closeFd(fd);
    throw new LogFileRefusedError(path, `its directory ${resolved.path} was replaced while it was opened`);
  }
  return fd;
}

/** Why this open descriptor is not a log file we may write; undefined when it is one. */
function notOurs(stat: fs.Stats): string | undefined {
  if (!stat.isFile()) return `not a regular file (${stat.isFIFO() ? 'a FIFO' : stat.isSocket() ? 'a socket' : 'a device or directory'})`;
  if (stat.uid !== euid()) return `owned by uid ${stat.uid}, not by uid ${euid()}`;
  if (stat.nlink !== 1) return `a file with ${stat.nlink} links (a hard link to another file?)`;
  return undefined;
}

/** Opens `name` in the directory open as `dirFd` for appending (creating it with `mode`), checked before use. */
async function openLogFileAt(dirFd: number, path: string, mode: number): Promise<{ fd: number; size: number; identity: FileIdentity }> {
  const entry = entryPath(dirFd, basename(path));
  let fd: number;
  try {
    fd = await openFd(entry, FILE_FLAGS, mode);
  } catch (error) {
    // ELOOP for a link; EACCES for a link of another user in a sticky directory (measured, Linux 6.18); ENXIO for
    // a FIFO nobody reads: say what is there rather than the errno.
    const there = await fs.promises.lstat(entry).catch(() => undefined);
    const why = there && (there.isSymbolicLink() ? 'a symbolic link' : notOurs(there));
    if (why) throw new LogFileRefusedError(path, `it is ${why}`);
    throw error;
  }
  try {
    const stat = await fstat(fd);
    const why = notOurs(stat);
    if (why) throw new LogFileRefusedError(path, `it is ${why}`);
    return { fd, size: stat.size, identity: { dev: stat.dev, ino: stat.ino } };
  } catch (error) {
    closeFd(fd);
    throw error;
  }
}

/** The log file at `path`: its directory checked and opened, then the file in it. */
export async function openLogFile(path: string, mode: number): Promise<OpenedLogFile> {
  const dirFd = await openLogDirectory(path);
  try {
    return { dirFd, ...(await openLogFileAt(dirFd, path, mode)) };
  } catch (error) {
    closeFd(dirFd);
    throw error;
  }
}

/** Whether `name` in the directory still is the file we hold (rotation renames only that). */
async function stillAt(dirFd: number, name: string, identity: FileIdentity): Promise<boolean> {
  try {
    const stat = await fs.promises.lstat(entryPath(dirFd, name));
    return stat.isFile() && stat.dev === identity.dev && stat.ino === identity.ino;
  } catch {
    return false;
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

/**
 * PATH.(N-1) → PATH.N, …, PATH → PATH.1 (maxFiles 0: PATH removed), relative to the directory
 * descriptor (rename never follows a link), and only when PATH still is the file we hold: one that
 * was renamed away (logrotate without USR1) or replaced is left as it is, and the caller opens PATH
 * anew.
 */
export async function renameForRotation(held: OpenedLogFile, path: string, maxFiles: number): Promise<void> {
  const name = basename(path);
  const at = (suffix: string): string => entryPath(held.dirFd, `${name}${suffix}`);
  if (!(await stillAt(held.dirFd, name, held.identity))) return;
  for (let index = maxFiles - 1; index >= 1; index -= 1) {
    await fs.promises.rename(at(`.${index}`), at(`.${index + 1}`)).catch(ignoreMissing);
  }
  if (maxFiles > 0) await fs.promises.rename(at(''), at('.1')).catch(ignoreMissing);
  else await fs.promises.unlink(at('')).catch(ignoreMissing);
}
