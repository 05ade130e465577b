/** Reloading a running pool by signal, as an operator or an init system does, and waiting for each to finish. */
import { setTimeout as delay } from 'node:timers/promises';
import type { RunningSupervisor } from './supervisor.js';

/** The index just past the n-th line matching pattern, so that waitForLine finds the next one. */
function lineCountOf(pool: RunningSupervisor, pattern: RegExp, n: number): number {
  let seen = 0;
  for (let index = 0; index < pool.lines.length; index += 1) {
    if (!pattern.test(pool.lines[index] as string)) continue;
    seen += 1;
    if (seen === n) return index + 1;
  }
  return 0;
}

/** `times` SIGHUPs, `spacingMs` apart, each waited for until its `reload finished` line. */
export async function reloadRepeatedly(pool: RunningSupervisor, times: number, spacingMs: number): Promise<void> {
  for (let i = 1; i <= times; i += 1) {
    await delay(spacingMs); // pacing the reloads over the load, not synchronisation
    process.kill(pool.pid, 'SIGHUP');
    await pool.waitForLine(/info: reload finished: generation \d+ serving/, 15_000, lineCountOf(pool, /reload finished/, i - 1));
  }
}
