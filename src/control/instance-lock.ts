/**
 * One instance per name: a daemon holds flock(LOCK_EX) on NAME.lock in the run directory for its
 * whole life. Two `start --name X` at the same moment both passed the record check before (neither
 * had published yet) and both exited 0; with the lock exactly one wins and the other is refused.
 * The kernel drops the lock when its holder dies, SIGKILL included, so a crash leaves no stale claim.
 *
 * The descriptor is close-on-exec (Node opens every file with O_CLOEXEC): workers must not inherit
 * it, or a worker outliving its supervisor would keep the name locked. A future in-place upgrade of
 * the supervisor (execve, DESIGN.md "USR2") clears FD_CLOEXEC on this descriptor as on the sockets,
 * so that its successor inherits the lock and no start can slip in between.
 */
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { tryLockExclusive } from '../os/libc.js';
import { parsePid } from './files.js';

export class InstanceLockError extends Error {
  constructor(
    readonly path: string,
    /** held: another process has it (its pid when it wrote it); refused: the file is not one we could have made. */
    readonly reason: 'held' | 'refused',
    message: string,
    readonly holder?: number,
  ) {
    super(message);
    this.name = 'InstanceLockError';
  }
}

const OPEN_FLAGS = constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** How often the file may be replaced under us (its holder exiting) before we give up. */
const ATTEMPTS = 5;

function sameFile(path: string, stat: Stats): boolean {
  try {
    const now = lstatSync(path);
    return now.ino === stat.ino && now.dev === stat.dev;
  } catch {
    return false;
  }
}

/** Open the lock file (creating it), and refuse one we could not have made: a link, a FIFO, another owner's. */
function openChecked(path: string, euid: number, create: boolean): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS | (create ? constants.O_CREAT : 0), 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !create) return undefined;
    throw new InstanceLockError(path, 'refused', `unable to open the instance lock ${path}: ${code === 'ELOOP' ? 'it is a symlink' : (code ?? (error as Error).message)}`);
  }
  const stat = fstatSync(fd);
  const problem = !stat.isFile() ? 'not a regular file' : stat.uid !== euid ? `owned by uid ${stat.uid}, not ${euid}` : (stat.mode & 0o022) !== 0 ? `writable by others (mode ${(stat.mode & 0o777).toString(8)})` : undefined;
  if (problem === undefined) return fd;
  closeSync(fd);
  throw new InstanceLockError(path, 'refused', `instance lock ${path} is ${problem}: refusing it`);
}

function holderOf(fd: number): number | undefined {
  try {
    return parsePid(readFileSync(fd, 'utf8'));
  } catch {
    return undefined;
  }
}

export class InstanceLock {
  private released = false;

  private constructor(
    readonly path: string,
    /** Held open for the daemon's life: closing it (or any copy of it) ends the lock. */
    readonly fd: number,
  ) {}

  /** Take the lock or throw InstanceLockError('held', with the holder's pid when it is known). */
  static acquire(path: string, euid: number): InstanceLock {
    for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
      const fd = openChecked(path, euid, true) as number;
      if (!tryLockExclusive(fd, path)) {
        const holder = holderOf(fd);
        closeSync(fd);
        throw new InstanceLockError(path, 'held', `instance lock ${path} is held${holder ? ` by pid ${holder}` : ''}`, holder);
      }
      // A holder unlinks the file before it lets go: the lock we got may be on a file no longer at the path.
      if (sameFile(path, fstatSync(fd))) {
        ftruncateSync(fd, 0);
        writeSync(fd, `${process.pid}\n`, 0);
        return new InstanceLock(path, fd);
      }
      closeSync(fd);
    }
    throw new InstanceLockError(path, 'refused', `instance lock ${path} kept changing under us (${ATTEMPTS} attempts)`);
  }

  /**
   * The lock the previous program held, inherited across execve (an in-place upgrade): the same open file
   * description, so the same flock, with no moment where another start could take the name. Refused unless the
   * descriptor is the file at the path.
   */
  static inherit(path: string, fd: number): InstanceLock {
    if (!sameFile(path, fstatSync(fd))) throw new InstanceLockError(path, 'refused', `descriptor ${fd} is not the instance lock ${path}`);
    return new InstanceLock(path, fd);
  }

  /** Which file it is (handed to the next program by an in-place upgrade, checked there). */
  identity(): { dev: number; ino: number } {
    const stat = fstatSync(this.fd);
    return { dev: stat.dev, ino: stat.ino };
  }

  /** At exit: unlink the file while still holding it, so a waiter that locks it after us sees it gone. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      if (sameFile(this.path, fstatSync(this.fd))) unlinkSync(this.path);
    } catch {
      // Gone already: the next start creates it again.
    }
    closeSync(this.fd);
  }
}

/**
 * The lock file of a supervisor that died without its cleanup (SIGKILL): removed only once we hold
 * it ourselves, so a live holder's file is never touched. Nothing is thrown: it is housekeeping.
 */
export function removeAbandonedLock(path: string, euid: number): void {
  let fd: number | undefined;
  try {
    fd = openChecked(path, euid, false);
    if (fd !== undefined && tryLockExclusive(fd, path) && sameFile(path, fstatSync(fd))) unlinkSync(path);
  } catch {
    // Refused or gone: leave it.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
