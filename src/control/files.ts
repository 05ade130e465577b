/**
 * Files that other processes read while we write them: written whole or not at all (a temporary
 * file in the same directory, then rename), so no reader ever sees half a pidfile. No fsync: this is
 * runtime state (on tmpfs under /run), worthless after a reboot, and rewritten at every respawn.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeAtomically(path: string, content: string, mode = 0o644): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', mode);
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
  const match = text === undefined ? null : /^\s*(\d+)\s*$/.exec(text);
  return match ? Number(match[1]) : undefined;
}
