/**
 * Files that other processes read while we write them: written whole or not at all (a temporary
 * file in the same directory, then rename), so no reader ever sees half a pidfile. No fsync: this is
 * runtime state (on tmpfs under /run), worthless after a reboot, and rewritten at every respawn.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, renameSync, unlinkSync, writeSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

// node:crypto on the write path only: loading it costs ~17 ms (measured, bench:cli), and `status`/`stop`
// of a stopped instance only read these files.
const load = createRequire(import.meta.url);
const randomBytes = (size: number): Buffer => (load('node:crypto') as typeof import('node:crypto')).randomBytes(size);

/**
 * The temporary file is created exclusively and never through a symlink (O_EXCL, O_NOFOLLOW) under
 * a random name: an extra pidfile may live in a directory others can write to, and a planted link
 * must not make us overwrite the file it points to.
 */
export function writeAtomically(path: string, content: string, mode = 0o644): void {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  for (let attempt = 0; ; attempt += 1) {
    const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    let fd: number;
    try {
      fd = openSync(temporary, flags, mode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 5) continue;
      throw error;
    }
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(temporary, path);
    } catch (error) {
      removeQuietly(temporary);
      throw error;
    }
    return;
  }
}

export function removeQuietly(path: string): void {
  if (path === '') return;
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A pid from a pidfile: one decimal number, optionally followed by a newline. */
export function readPidFile(path: string): number | undefined {
  const text = readText(path);
  return text === undefined ? undefined : parsePid(text);
}

/** What a checked read found: the value, nothing, or a file refused and why. */
export type Checked<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'missing' }
  | { readonly kind: 'refused'; readonly reason: string };

/** Records hold an environment; nothing we write comes near this. */
const MAX_STATE_FILE_BYTES = 1 << 20;

/**
 * A state file (record, pidfile) is believed only if we could have written it: opened without
 * following a symlink (and without blocking on a FIFO), a regular file, owned by our euid, writable
 * by nobody else. What fails is refused with its reason, never read: a planted record would
 * otherwise choose the environment `restart` runs and the files `stop` deletes.
 */
export function readOwnFile(path: string, euid: number): Checked<string> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'refused', reason: code === 'ELOOP' ? 'a symlink' : `cannot open it: ${code ?? (error as Error).message}` };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { kind: 'refused', reason: 'not a regular file' };
    if (stat.uid !== euid) return { kind: 'refused', reason: `owned by uid ${stat.uid}, not ${euid}` };
    if ((stat.mode & 0o022) !== 0) return { kind: 'refused', reason: `writable by others than its owner (mode ${(stat.mode & 0o777).toString(8)})` };
    if (stat.size > MAX_STATE_FILE_BYTES) return { kind: 'refused', reason: `${stat.size} bytes long` };
    return { kind: 'ok', value: readFileSync(fd, 'utf8') };
  } catch (error) {
    return { kind: 'refused', reason: `cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

/** A pid from pidfile text: one decimal number, optionally followed by a newline. */
export function parsePid(text: string): number | undefined {
  const match = /^\s*(\d+)\s*$/.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * Removes a pidfile only while it still holds `pid` (another instance may have taken the name, or a
 * service the path since), read without following a link (O_NOFOLLOW), without blocking on a FIFO
 * (O_NONBLOCK: a -P pidfile may sit in a directory others can write), and unlinked only while the
 * name still is the regular file that was read (dev+ino).
 */
export function removePidFileIfHolds(path: string, pid: number): boolean {
  if (path === '') return false;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return false;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return false;
    const buffer = Buffer.alloc(32);
    const text = buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0));
    if (parsePid(text) !== pid) return false;
    const now = lstatSync(path, { throwIfNoEntry: false });
    if (now?.dev !== stat.dev || now.ino !== stat.ino) return false;
    unlinkSync(path);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}
