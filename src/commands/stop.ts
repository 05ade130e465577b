/**
 * `fcgi-spawn stop`: TERM (or QUIT with --graceful) to a verified instance, then wait until it and
 * every worker it recorded are gone, SIGKILL after --timeout. Not running is success: init scripts
 * stay idempotent.
 */
import { CliError } from '../errors.js';
import type { InstanceSelector, LocatedInstance } from '../control/locate.js';
import { identityOf, isSameProcess } from '../control/record.js';
import { removePidFileIfHolds, removeQuietly } from '../control/files.js';
import { killAll, terminate, waitGone } from '../control/terminate.js';
import { parseSeconds } from '../config/values.js';
import { locate } from './instance-selector.js';
import { printError, printOut } from './print.js';

/** 4: the run directory was refused (as `start` refuses it): nothing in it is believed, nothing is signalled. */
export const STOP_EXIT = { stopped: 0, forced: 1, usage: 2, refused: 4 } as const;

export interface StopOptions {
  readonly timeout?: string;
  readonly graceful?: boolean;
}

export async function runStop(selector: InstanceSelector, options: StopOptions): Promise<number> {
  let timeoutMs: number;
  try {
    timeoutMs = parseSeconds('--timeout', options.timeout ?? (options.graceful ? '60' : '30'));
  } catch (error) {
    throw new CliError((error as Error).message, STOP_EXIT.usage);
  }
  const instance = locate(selector, { usage: STOP_EXIT.usage, refused: STOP_EXIT.refused });
  const workers = instance.record?.workers ?? [];
  if (instance.status.state !== 'running') {
    const orphans = workers.filter(isSameProcess);
    if (orphans.length > 0) await terminate(orphans, { signal: 'SIGTERM', timeoutMs, groups: true });
    if (instance.status.state === 'dead') {
      await removeLeftovers(instance);
      await removeLock(instance);
    }
    return notRunning(instance.name, orphans.length);
  }
  const { pid } = instance.status;
  const supervisor = instance.record?.supervisor ?? identityOf(pid);
  if (!supervisor) return notRunning(instance.name, 0);
  process.kill(pid, options.graceful ? 'SIGQUIT' : 'SIGTERM');
  if (!(await waitGone([supervisor, ...workers], timeoutMs))) {
    // Not finished in time: the supervisor, then every worker group it recorded, get SIGKILL.
    await killAll([supervisor], false);
    await killAll(workers, true);
    await removeLeftovers(instance);
    await removeLock(instance);
    printError(`fcgi-spawn: ${instance.name} (pid ${pid}) did not stop within ${timeoutMs} ms: killed\n`);
    return STOP_EXIT.forced;
  }
  printOut(`fcgi-spawn: stopped ${instance.name} (pid ${pid})\n`);
  return STOP_EXIT.stopped;
}

/**
 * What a supervisor that died without cleaning up left: its files, and its socket file if nobody accepts there.
 * A pidfile goes only while it still holds that supervisor's pid (another instance or service may have it now).
 */
async function removeLeftovers(instance: LocatedInstance): Promise<void> {
  const pid = instance.record?.supervisor.pid ?? (instance.status.state === 'stopped' ? undefined : instance.status.pid);
  if (pid !== undefined) {
    removePidFileIfHolds(instance.paths.pidfile, pid);
    if (instance.record?.extraPidfile) removePidFileIfHolds(instance.record.extraPidfile, pid);
  }
  for (const path of [instance.paths.record, instance.paths.control]) removeQuietly(path);
  if (instance.record?.address.startsWith('/')) {
    const { removeStaleSocketPath } = await import('../os/listen-socket.js');
    removeStaleSocketPath(instance.record.address);
  }
}

/** The lock file a killed supervisor could not remove (only once nobody holds it: instance-lock.ts). */
async function removeLock(instance: LocatedInstance): Promise<void> {
  if (instance.paths.lock === '') return;
  const { removeAbandonedLock } = await import('../control/instance-lock.js');
  removeAbandonedLock(instance.paths.lock, process.geteuid?.() ?? -1);
}

function notRunning(name: string, orphans: number): number {
  const extra = orphans > 0 ? ` (stopped ${orphans} orphaned worker(s))` : '';
  printOut(`fcgi-spawn: ${name} is not running${extra}\n`);
  return STOP_EXIT.stopped;
}
