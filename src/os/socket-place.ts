/**
 * Where a Unix socket file is made, and how it gets to its public path, when a less trusted user (a
 * pool's worker user owning /run/php) may write the directory it lives in.
 *
 * chown() and chmod() by path after bind() follow whatever that user raced into the path: a root
 * 0600 file became 0666 and theirs (issue 9). So the socket is bound in a private directory made
 * beside the public path (mkdirat 0700, `.NAME.PID.RANDOM`, only we can add to it), its owner and
 * mode are set there, and it is renamed into place; every step is relative to directory
 * descriptors opened O_DIRECTORY|O_NOFOLLOW. The attacker can still rename the private directory
 * itself, since its parent is theirs: the descriptor follows it wherever it goes, and the public path
 * is checked (lstat dev+ino) after the rename.
 *
 * bind() has no *at() form: it goes through `/proc/self/fd/N/NAME`, which the kernel resolves through
 * the descriptor N exactly as openat(N, NAME) would (a magic link to the open directory, wherever it
 * was moved). That string is the socket's bound name (`ss -xl`, /proc/net/unix); the private
 * directory's descriptor is held as long as the socket, so no other socket of ours has that name.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import * as libc from './libc.js';
import { hasExited, readStat } from './proc.js';
import { UNIX_PATH_MAX } from './sockaddr.js';

export interface PathIdentity {
  readonly dev: number;
  readonly ino: number;
}

/** `name` in the directory open as `fd`, resolved through the descriptor (see above). */
export function pathAt(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

function sameFile(a: PathIdentity, b: PathIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The socket's directory, by its real path (its ancestors are the operator's to trust; /var/run is a
 * link to /run), opened without following a link that replaced it since.
 */
function openParent(publicPath: string): number {
  const parent = realpathSync(dirname(publicPath));
  return openSync(parent, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
}

export class SocketPathReplacedError extends Error {
  constructor(readonly path: string) {
    super(`${path} was replaced as the socket was moved there: is another process writing its directory?`);
    this.name = 'SocketPathReplacedError';
  }
}

export class SocketPlace {
  private inPrivate = true;
  private privateRemoved = false;
  private identity: PathIdentity | undefined;
  private closed = false;

  private constructor(
    readonly publicPath: string,
    private readonly parentFd: number,
    private readonly privateName: string,
    private readonly privateFd: number,
    /** The socket's name inside the private directory. */
    private readonly fileName: string,
  ) {}

  /** A fresh private directory beside `publicPath`, checked to be the one we made. */
  static create(publicPath: string): SocketPlace {
    const parentFd = openParent(publicPath);
    try {
      const privateName = SocketPlace.makePrivateDirectory(parentFd, publicPath);
      const privateFd = libc.openDirectoryAt(parentFd, privateName, `${dirname(publicPath)}/${privateName}`);
      const stat = fstatSync(privateFd);
      if (stat.uid !== process.geteuid?.() || (stat.mode & 0o077) !== 0) {
        closeSync(privateFd);
        throw new SocketPathReplacedError(`${dirname(publicPath)}/${privateName}`);
      }
      const base = basename(publicPath);
      // The public name when the bound name fits sockaddr_un, else a short one: renameat gives it its public name.
      const fileName = Buffer.byteLength(pathAt(privateFd, base)) <= UNIX_PATH_MAX ? base : 's';
      return new SocketPlace(publicPath, parentFd, privateName, privateFd, fileName);
    } catch (error) {
      closeSync(parentFd);
      throw error;
    }
  }

  private static makePrivateDirectory(parentFd: number, publicPath: string): string {
    for (let attempt = 0; ; attempt += 1) {
      const name = `.${basename(publicPath)}.${process.pid}.${randomBytes(6).toString('base64url')}`;
      try {
        libc.mkdirAt(parentFd, name, 0o700, `${dirname(publicPath)}/${name}`);
        return name;
      } catch (error) {
        if (!(error instanceof libc.SyscallError && error.code === 'EEXIST') || attempt >= 5) throw error;
      }
    }
  }

  /** What to pass to bind(): the socket file inside the private directory, through its descriptor. */
  get bindPath(): string {
    return pathAt(this.privateFd, this.fileName);
  }

  /**
   * Owner, group and mode, set inside the private directory. Measured here: fchmodat with
   * AT_SYMLINK_NOFOLLOW works (glibc 2.36); where glibc refuses the flag (before 2.32, ENOTSUP) a
   * plain fchmodat is as safe, since nobody else can put a link in a 0700 directory of ours.
   */
  setOwnerAndMode(mode: number, uid?: number, gid?: number): void {
    const subject = this.publicPath;
    if (uid !== undefined || gid !== undefined) libc.chownAt(this.privateFd, this.fileName, uid ?? -1, gid ?? -1, subject);
    try {
      libc.chmodAt(this.privateFd, this.fileName, mode, { subject });
    } catch (error) {
      if (!(error instanceof libc.SyscallError && (error.code === 'ENOTSUP' || error.code === 'EOPNOTSUPP'))) throw error;
      if (!lstatSync(this.bindPath).isSocket()) throw error;
      libc.chmodAt(this.privateFd, this.fileName, mode, { subject, followLinks: true });
    }
  }

  /** Records the bound file's identity (bind() made it in our private directory: it is ours). */
  bound(): void {
    const stat = lstatSync(this.bindPath);
    this.identity = { dev: stat.dev, ino: stat.ino };
  }

  /**
   * Renames the socket over its public path and removes the private directory. `replace: false`
   * (a first bind, after the stale-socket probe) never replaces what appeared at the path since.
   */
  moveToPublic(options: { readonly replace: boolean }): void {
    if (!this.inPrivate || this.identity === undefined) return;
    const base = basename(this.publicPath);
    let flags = options.replace ? 0 : libc.RENAME_NOREPLACE;
    try {
      libc.renameAt(this.privateFd, this.fileName, this.parentFd, base, flags, this.publicPath);
    } catch (error) {
      // A filesystem without RENAME_NOREPLACE (EINVAL): the probe just before is all we have.
      if (!(error instanceof libc.SyscallError && error.code === 'EINVAL' && flags !== 0)) throw error;
      flags = 0;
      libc.renameAt(this.privateFd, this.fileName, this.parentFd, base, flags, this.publicPath);
    }
    this.inPrivate = false;
    // Looked at before anything else: every step in between is a window for whoever writes the directory.
    const now = lstatOrUndefined(pathAt(this.parentFd, base));
    this.removePrivateDirectory();
    if (!now || !sameFile(now, this.identity)) throw new SocketPathReplacedError(this.publicPath);
  }

  /** Removes the socket file wherever it is, if that is still ours; never anything else. */
  unlink(): void {
    if (this.identity === undefined) return;
    const [dirFd, name] = this.inPrivate ? [this.privateFd, this.fileName] : [this.parentFd, basename(this.publicPath)];
    const now = lstatOrUndefined(pathAt(dirFd, name));
    if (now?.isSocket() && sameFile(now, this.identity)) {
      try {
        libc.unlinkAt(dirFd, name);
      } catch {
        // Gone meanwhile.
      }
    }
    this.identity = undefined;
  }

  /** Removes the socket (if still ours) and the private directory, and closes the descriptors. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unlink();
    this.removePrivateDirectory();
    closeSync(this.privateFd);
    closeSync(this.parentFd);
  }

  /** rmdir by name, only while the name still is our directory: the attacker may have renamed it. */
  private removePrivateDirectory(): void {
    if (this.privateRemoved) return;
    removeDirectoryIfSame(this.parentFd, this.privateName, fstatSync(this.privateFd));
    this.privateRemoved = true;
  }
}

function removeDirectoryIfSame(parentFd: number, name: string, expected: PathIdentity): boolean {
  const now = lstatOrUndefined(pathAt(parentFd, name));
  if (!now?.isDirectory() || !sameFile(now, expected)) return false;
  try {
    libc.unlinkAt(parentFd, name, libc.AT_REMOVEDIR);
    return true;
  } catch {
    // Not empty (something that is not a socket of ours), or gone meanwhile: left alone.
    return false;
  }
}

/** Alive: a /proc entry that has not exited (proc.ts hasExited). */
function processAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && !hasExited(stat);
}

/**
 * What a supervisor killed by SIGKILL during a bind or a reload left beside the public path: private
 * directories `.NAME.PID.RANDOM` (and the temporary sockets `.NAME.PID.GEN` of earlier versions) of a
 * dead PID. This runs as root in a directory others may write: every entry is looked at with lstat
 * through directory descriptors, a directory is entered only if it is ours and private (0700, our
 * uid, opened O_NOFOLLOW), only socket files are removed from it, and nothing is recursed into.
 */
export function removeAbandonedTemporaries(publicPath: string): string[] {
  let parentFd: number;
  try {
    parentFd = openParent(publicPath);
  } catch {
    return [];
  }
  const removed: string[] = [];
  try {
    const base = basename(publicPath).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = new RegExp(`^\\.${base}\\.(\\d+)\\.[A-Za-z0-9_-]+$`);
    for (const entry of readdirSync(pathAt(parentFd))) {
      const match = pattern.exec(entry);
      if (!match || processAlive(Number(match[1]))) continue;
      const stat = lstatOrUndefined(pathAt(parentFd, entry));
      const shown = `${dirname(publicPath)}/${entry}`;
      if (stat?.isSocket()) {
        if (unlinkQuietly(parentFd, entry)) removed.push(shown);
      } else if (stat?.isDirectory() && emptyPrivateDirectory(parentFd, entry)) {
        removed.push(shown);
      }
    }
  } catch {
    // The directory went away or cannot be listed: nothing to clean.
  } finally {
    closeSync(parentFd);
  }
  return removed;
}

/** Removes the sockets inside one abandoned private directory of ours, then the directory if that emptied it. */
function emptyPrivateDirectory(parentFd: number, name: string): boolean {
  let fd: number;
  try {
    fd = libc.openDirectoryAt(parentFd, name);
  } catch {
    return false;
  }
  try {
    const stat = fstatSync(fd);
    if (stat.uid !== process.geteuid?.() || (stat.mode & 0o077) !== 0) return false;
    for (const entry of readdirSync(pathAt(fd))) {
      if (lstatOrUndefined(pathAt(fd, entry))?.isSocket()) unlinkQuietly(fd, entry);
    }
    return removeDirectoryIfSame(parentFd, name, stat);
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

function unlinkQuietly(dirFd: number, name: string): boolean {
  try {
    libc.unlinkAt(dirFd, name);
    return true;
  } catch {
    return false;
  }
}
