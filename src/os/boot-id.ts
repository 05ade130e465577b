/**
 * This boot's identity (/proc/sys/kernel/random/boot_id, a random UUID drawn at every boot). A pid
 * and its start time (ticks since boot) name one process within one boot only: a record that
 * outlived a reboot (the /tmp fallback run directory, a run directory on disk) may name a new
 * process with the same pid and start time — likely for daemons started at the same point of boot.
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The boot id, or '' where /proc does not tell (nor then does it tell a start time). */
export function currentBootId(): string {
  if (cached === undefined) {
    try {
      cached = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
    } catch {
      cached = '';
    }
  }
  return cached;
}
